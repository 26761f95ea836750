"""Convolutions whose weight gradient on a small map is a matrix product (on the CPU).

oneDNN computes every DCGAN convolution well on this project's CPUs (AMX, bf16) except one thing: the
weight gradient of a layer whose small side is a 4x4 (or 1x1) map. There it ran at 240 GFLOP/s for the
8x8 -> 4x4 layers of the 64 px networks (width 64), against 650 GFLOP/s as an im2col matrix product and
over 2,000 for a plain bf16 matmul (`benchmarks/roofline.py` prints the step's profile). Those layers are
D's last two and G's first two: the weight gradient as a product of the unfolded big map and the small
map's gradient made the `dcgan-paper` step about 1.1x as fast.

:class:`Conv2d` and :class:`ConvTranspose2d` are ``torch.nn``'s, with the same parameters and state dict;
on a CUDA/MPS device, or for any other layer shape, they are exactly ``torch.nn``'s forward. The value
is the same sum in another order, so the weight gradients differ from oneDNN's in rounding only
(measured 4e-5 relative in bf16, 1e-6 in fp32). Double backward (R1, WGAN-GP) works: the backward is
made of differentiable operations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# A map of at most this many positions (4x4) is "small": the weight gradient is a product over N*16 rows.
SMALL_MAP = 16


def _small(big: torch.Tensor, small_hw: int, module: nn.Module) -> bool:
    return (big.device.type == "cpu" and big.dim() == 4 and small_hw <= SMALL_MAP and module.groups == 1
            and module.bias is None and module.dilation == (1, 1) and module.padding_mode == "zeros"
            and module.kernel_size[0] == module.kernel_size[1] and module.stride[0] == module.stride[1]
            and module.padding[0] == module.padding[1])


def _cast(x: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The dtypes autocast would give the convolution (the custom function runs with autocast off)."""
    if torch.is_autocast_enabled("cpu"):
        dtype = torch.get_autocast_dtype("cpu")
        return x.to(dtype), w.to(dtype)
    return x, w


def unfold(x: torch.Tensor, k: int, s: int, p: int) -> torch.Tensor:
    """im2col of ``x`` (N, C, H, W): rows are output positions (n, i, j), columns (c, kh, kw) like a
    conv weight's (O, C, kh, kw). Taken from the NHWC view, which is contiguous for channels-last."""
    patches = F.pad(x, (p, p, p, p)).permute(0, 2, 3, 1).unfold(1, k, s).unfold(2, k, s)
    n, ho, wo = patches.shape[:3]
    return patches.reshape(n * ho * wo, -1)


def rows(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N*H*W, C), rows in (n, i, j) order like :func:`unfold`'s."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])


class _SmallMapConv(torch.autograd.Function):
    """conv2d (or conv_transpose2d) by oneDNN; in backward, the input gradient by oneDNN and the weight
    gradient as (rows of the small map)^T @ unfold(the big map)."""

    @staticmethod
    def forward(ctx, x, w, stride: int, padding: int, transposed: bool):
        ctx.save_for_backward(x, w)
        ctx.conf = (stride, padding, transposed)
        if transposed:
            return F.conv_transpose2d(x, w, None, stride, padding)
        return F.conv2d(x, w, None, stride, padding)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        s, p, transposed = ctx.conf
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = torch.ops.aten.convolution_backward(gy, x, w, None, [s, s], [p, p], [1, 1], transposed,
                                                     [0, 0], 1, [True, False, False])[0]
        if ctx.needs_input_grad[1]:
            k = w.shape[-1]
            # conv: small map = output (its gradient); transposed: small map = input, big = output gradient.
            small, big = (x, gy) if transposed else (gy, x)
            gw = (rows(small).t() @ unfold(big, k, s, p)).reshape(w.shape)
        return gx, gw, None, None, None


class Conv2d(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        out_hw = ((x.shape[-2] + 2 * p - k) // s + 1) * ((x.shape[-1] + 2 * p - k) // s + 1)
        if not _small(x, out_hw, self):
            return super().forward(x)
        x, w = _cast(x, self.weight)
        with torch.autocast("cpu", enabled=False):
            return _SmallMapConv.apply(x, w, self.stride[0], self.padding[0], False)


class ConvTranspose2d(nn.ConvTranspose2d):
    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None or self.output_padding != (0, 0) or not _small(x, x.shape[-2] * x.shape[-1], self):
            return super().forward(x, output_size)
        x, w = _cast(x, self.weight)
        with torch.autocast("cpu", enabled=False):
            return _SmallMapConv.apply(x, w, self.stride[0], self.padding[0], True)
