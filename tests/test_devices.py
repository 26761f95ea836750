"""Device choice and the training step's precision per device."""

import pytest
import torch

from facegan import devices
from facegan.errors import FaceganError
from facegan.presets import from_preset

CPU = torch.device("cpu")


@pytest.mark.parametrize("caps, expected", [({"avx512_bf16": True}, torch.bfloat16),
                                            ({"amx_bf16": True}, torch.bfloat16),
                                            ({"avx512_bf16": False, "amx_bf16": False}, None), ({}, None)])
def test_auto_precision_on_the_cpu_follows_its_bf16_instructions(monkeypatch, caps, expected):
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: caps)
    assert devices.amp_dtype(CPU) is expected
    assert devices.amp_dtype(CPU, "fp32") is None
    assert devices.amp_dtype(CPU, "bf16") is torch.bfloat16  # asked for: obeyed, even where it is slow


def test_auto_precision_on_mps_is_fp32():
    assert devices.amp_dtype(torch.device("mps")) is None


def test_bf16_on_a_cuda_gpu_without_it_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Tesla T4")
    gpu = torch.device("cuda")
    assert devices.amp_dtype(gpu) is None
    with pytest.raises(FaceganError, match="does not support bfloat16"):
        devices.amp_dtype(gpu, "bf16")


def test_a_wrong_precision_is_refused_at_the_edge():
    with pytest.raises(FaceganError, match="precision"):
        from_preset("dcgan-paper", ["precision=fp16"])
    assert from_preset("dcgan-paper", ["precision=fp32"]).run.precision == "fp32"


def test_a_wrong_device_name_says_what_is_allowed():
    with pytest.raises(FaceganError, match="allowed"):
        devices.pick_device("tpu")
    assert devices.pick_device("cpu") == CPU
