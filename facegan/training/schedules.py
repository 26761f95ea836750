"""How the strength of a noise trick changes over training.

One schedule serves both the noise layers inside the networks and the instance noise on D's
inputs. ``epoch`` may be fractional (``epoch + step / steps_per_epoch``) for a smooth decay.
"""

from __future__ import annotations

from torch import nn

from ..models.layers import noise_layers


def noise_std(base: float, schedule: str, epoch: float, epochs: int) -> float:
    """The std at ``epoch`` of noise configured as ``base``:

    - ``constant``: ``base`` throughout;
    - ``linear``: ``base`` at epoch 0 falling in a straight line to 0 at ``epochs``, then 0;
    - ``cyclic``: the linear decay restarted every ``epochs`` (a sawtooth: ``base`` again at each
      multiple of ``epochs``), to shake D loose again whenever it has settled;
    - ``off_after``: ``base`` before ``epochs``, 0 from ``epochs`` on.
    """
    if schedule == "constant":
        return float(base)
    if schedule == "linear":
        return base * max(0.0, 1.0 - epoch / epochs)
    if schedule == "cyclic":
        return base * (1.0 - (epoch % epochs) / epochs)
    if schedule == "off_after":
        return float(base) if epoch < epochs else 0.0
    raise ValueError(f"unknown noise schedule {schedule!r}")


def set_noise_epoch(net: nn.Module, epoch: float, schedule: str, epochs: int) -> float:
    """Set every noise layer of ``net`` to its std at ``epoch``; returns the largest std set
    (0.0 when ``net`` has no noise layers)."""
    stds = [0.0]
    for layer in noise_layers(net):
        layer.std = noise_std(layer.base_std, schedule, epoch, epochs)
        stds.append(layer.std)
    return max(stds)
