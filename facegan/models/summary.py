"""A layer-by-layer view of the networks a configuration builds (``python -m facegan arch``).

Shapes are measured, not computed: a dummy batch runs through the networks with a forward hook on
every layer, so the view cannot drift from the code.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..config import Config
from .dcgan import IMAGE_CHANNELS, build_networks


def architecture(cfg: Config) -> dict:
    """``{'resolution', 'generator', 'discriminator'}``; each network is ``{'input_shape', 'layers',
    'params', 'trainable_params'}`` and each layer ``{'name', 'type', 'output_shape', 'params'}``.
    Shapes leave out the batch dimension. The caller's random state is left untouched."""
    r = cfg.data.resolution
    with torch.random.fork_rng(devices=[]):
        G, D = build_networks(cfg)
    return {"resolution": r,
            "generator": trace(G, torch.zeros(2, cfg.model.latent_dim, 1, 1)),
            "discriminator": trace(D, torch.zeros(2, IMAGE_CHANNELS, r, r))}


def layers(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """The modules that do the work: leaves, plus convs wrapped by a parametrization such as
    spectral norm (whose own helper modules are skipped, being part of the conv)."""
    return [(name, m) for name, m in net.named_modules()
            if "parametrizations" not in name.split(".")
            and (parametrize.is_parametrized(m) or next(m.children(), None) is None)]


def layer_type(m: nn.Module) -> str:
    if not parametrize.is_parametrized(m):
        return type(m).__name__
    base = type(m).__bases__[0].__name__
    kinds = {type(p).__name__ for plist in m.parametrizations.values() for p in plist}
    return base + ("+SN" if kinds == {"_SpectralNorm"} else "+" + "+".join(sorted(kinds)))


@torch.no_grad()
def trace(net: nn.Module, x: torch.Tensor) -> dict:
    """Run ``x`` through ``net`` in eval mode and record every layer's output shape and size."""
    found = layers(net)
    shapes: dict[str, list[int]] = {}

    def recorder(name):
        def hook(module, inputs, output):
            shapes[name] = list(output.shape[1:])
        return hook

    handles = [m.register_forward_hook(recorder(name)) for name, m in found]
    try:
        net.eval()(x)
    finally:
        for h in handles:
            h.remove()
    return {"input_shape": list(x.shape[1:]),
            "layers": [{"name": name, "type": layer_type(m), "output_shape": shapes.get(name),
                        "params": sum(p.numel() for p in m.parameters())} for name, m in found],
            "params": sum(p.numel() for p in net.parameters()),
            "trainable_params": sum(p.numel() for p in net.parameters() if p.requires_grad)}


def format_architecture(arch: dict) -> str:
    """Fixed-width tables, one per network, each ending in its parameter totals."""
    out = []
    for key in ("generator", "discriminator"):
        net = arch[key]
        rows = [(layer["name"], layer["type"], _shape(layer["output_shape"]), f"{layer['params']:,}")
                for layer in net["layers"]]
        head = ("layer", "type", "output", "params")
        total = ("total", "", "", f"{net['params']:,}")
        w = [max(len(r[i]) for r in [head, total, *rows]) for i in range(4)]

        def line(r):
            return f"  {r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:>{w[3]}}".rstrip()

        rule = "  " + "  ".join("-" * n for n in w)
        out += [f"{key} ({arch['resolution']} px), input {_shape(net['input_shape'])}",
                line(head), rule, *map(line, rows), rule, line(total)]
        if net["trainable_params"] != net["params"]:
            out.append(f"  trainable {net['trainable_params']:,}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _shape(shape) -> str:
    return "-" if shape is None else "[" + ", ".join(map(str, shape)) + "]"
