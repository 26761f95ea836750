"""Export a run's generator as one .safetensors file: the weights that sample best (EMA when kept) plus
the configuration that rebuilds the network, and nothing that could run code when loaded.

:func:`facegan.generate.load_generator` reads the file back.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import save

from .generate import EXPORT_FORMAT, load_generator
from .io import atomic_write_bytes


def export_generator(run_or_ckpt: str | Path, out_path: str | Path, which: str | int = "last") -> Path:
    """Write the generator of ``run_or_ckpt`` (a run folder, .pt or .safetensors; ``which`` as in
    :func:`load_generator`) to ``out_path`` atomically; returns ``out_path``."""
    G, cfg, info = load_generator(run_or_ckpt, which, device="cpu")
    # safetensors refuses views and tensors that share storage; copies make each one its own block.
    state = {k: v.detach().cpu().contiguous().clone() for k, v in G.state_dict().items()}
    meta = {"format": EXPORT_FORMAT, "config": cfg.to_json(indent=None), "epoch": str(info["epoch"]),
            "step": str(info["step"]), "ema": "true" if info["ema"] else "false"}
    return atomic_write_bytes(out_path, save(state, metadata=meta))
