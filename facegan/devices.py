"""Which device to train on: CUDA, then Apple MPS, then the CPU, unless the configuration names one."""

from __future__ import annotations

import torch

from .errors import FaceganError


def pick_device(name: str = "auto") -> torch.device:
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise FaceganError(f"run.device: got {name!r}; allowed: 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise FaceganError("run.device is 'cuda' but PyTorch sees no CUDA GPU here; use 'auto' or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise FaceganError(f"run.device is {name!r} but only {torch.cuda.device_count()} CUDA GPU(s) exist")
    elif device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise FaceganError("run.device is 'mps' but Apple's MPS backend is not available; use 'auto' or 'cpu'")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise FaceganError(f"run.device: got {name!r}; allowed: 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'")
    return device


def gpu_count() -> int:
    """CUDA GPUs on this machine: the most processes a multi-GPU (torchrun) run can start here."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX), which oneDNN uses for bf16
    convolutions; without them bf16 is emulated and slower than fp32."""
    caps = getattr(torch.cpu, "get_capabilities", lambda: {})()
    return bool(caps.get("avx512_bf16") or caps.get("amx_bf16"))


def amp_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype of the training step, or None for plain fp32.

    'auto' is bf16 where it pays: on CUDA GPUs that support it, and on CPUs with bf16 instructions (on this
    project's 2-core AVX512-BF16 EPYC a dcgan-paper step ran 1.63x faster: benchmarks/cpu_precision.py).
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise FaceganError(f"run.precision is 'bf16' but {describe(device)} does not support bfloat16; "
                               "use 'auto' or 'fp32'")
        return torch.bfloat16
    if precision != "auto":
        raise FaceganError(f"run.precision: got {precision!r}; allowed: 'auto', 'fp32', 'bf16'")
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    if device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None


def channels_last(device: torch.device) -> bool:
    """NHWC activations: faster convolutions with cuDNN, and on this project's 2-core CPU a DCGAN-64
    step took 1.55 s instead of 2.9 s (oneDNN's NHWC kernels). MPS support for it is patchy."""
    return device.type in ("cuda", "cpu")
