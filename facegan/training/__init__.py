"""What one training step does: losses, penalties, label tricks, noise schedules, the replay buffer."""

from .labels import LabelSpec, d_labels
from .losses import d_loss, g_loss, penalty_scale, r1_penalty, wgan_gp_penalty
from .replay import ReplayBuffer
from .schedules import noise_std, set_noise_epoch
from .step import GANStep, make_optimizers

__all__ = ["LabelSpec", "d_labels", "d_loss", "g_loss", "penalty_scale", "r1_penalty",
           "wgan_gp_penalty", "ReplayBuffer", "noise_std", "set_noise_epoch", "GANStep",
           "make_optimizers"]
