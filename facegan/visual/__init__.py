"""Pictures made from runs: the training GIF, latent interpolations."""
