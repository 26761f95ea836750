"""Data: sources (synthetic, folder, zip, CelebA, FFHQ), the prepared-data cache, and the batch loader."""
