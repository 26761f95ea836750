"""Distributed training on CPU processes with gloo over 127.0.0.1 (no GPU here): torchrun launches, one
writer of the run folder, resume with another world size, and gradient averaging equal to one process."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from facegan.errors import FaceganError
from facegan.presets import from_preset
from facegan.training import distributed
from facegan.training.checkpoint import load_checkpoint
from facegan.training.trainer import train

from .conftest import ROOT

TINY = ["--data", "synthetic", "--resolution", "32", "--batch-size", "16", "--device", "cpu",
        "--set", "synthetic_count=64", "--set", "g_width=8", "--set", "d_width=8", "--set", "log_every=1",
        "--set", "sample_count=4"]
# Max |difference| of any parameter after 4 steps, 2 processes against 1. Only float32 summation order
# differs (two half-batch means averaged by all_reduce instead of one mean, other thread counts), so the
# weights agree to float32 rounding: measured 1.2e-7 (R1) and 8.9e-8 (WGAN-GP) on this machine, at weights
# of order 0.1. 1e-5 leaves a factor of ~100 for other CPUs and BLAS builds and is still 20 times under one
# Adam step (lr 2e-4 moves every weight by about that much): ranks that did not average (each stepping on
# its own half batch) or that drew the same latents land ~1e-4 or more away. (Adam ignores a constant
# factor on the gradients, so this cannot tell a mean from a sum; the loss is a mean per rank anyway.)
TOLERANCE = 1e-5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc: int, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), "-m", "facegan", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def steps(run) -> list[int]:
    return [r["step"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
            if r["kind"] == "step"]


@pytest.mark.slow
def test_two_processes_write_one_run_folder_and_resume_on_one(tmp_path):
    run = tmp_path / "ddp"
    proc = torchrun(2, *TINY, "--epochs", "1", "--run-dir", str(run))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp"]
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == [
        "checkpoints", "checkpoints/epoch_0001.pt", "checkpoints/last.pt", "config.json", "metrics.jsonl",
        "samples", "samples/epoch_0001.png", "training.gif"]
    assert steps(run) == [1, 2, 3, 4]  # 64 images / global batch 16: each step logged once, by rank 0
    assert proc.stdout.count("finished at epoch 1") == 1
    # The same run continued by one process with the whole global batch: steps go on without a gap.
    subprocess.run([sys.executable, "-m", "facegan", "train", "--resume", "--run-dir", str(run), "--epochs",
                    "2", "--device", "cpu"], cwd=ROOT, check=True, capture_output=True, timeout=240)
    assert steps(run) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 8


@pytest.mark.slow
@pytest.mark.parametrize("penalty", [["loss=hinge", "gp=r1", "gp_weight=1"], ["loss=wgan", "gp=wgan-gp"]])
def test_two_processes_average_gradients_like_one_process(tmp_path, penalty):
    """No BatchNorm anywhere (G's off, D spectral), so the global batch gives the same gradients however
    it is split; the penalties' double backward must be averaged too."""
    # fp32: the claim is about float32 summation order; under bf16 autocast (the default on CPUs with bf16
    # instructions) every forward pass rounds to 8 bits of mantissa: the runs then differed by 7e-4 (R1) and
    # 1e-3 (WGAN-GP), too close to what a missing all_reduce would do.
    sets = ["g_norm=none", "d_norm=spectral", "precision=fp32", *penalty]
    torchrun(2, *TINY, *[a for s in sets for a in ("--set", s)], "--epochs", "1", "--run-dir", str(tmp_path / "two"))
    cfg = from_preset("dcgan-paper", ["resolution=32", "batch_size=16", "device=cpu", "synthetic_count=64",
                                      "g_width=8", "d_width=8", "sample_count=4", "epochs=1", *sets,
                                      f"run_dir={tmp_path / 'one'}"])
    train(cfg)
    two = load_checkpoint(tmp_path / "two" / "checkpoints" / "last.pt")
    one = load_checkpoint(tmp_path / "one" / "checkpoints" / "last.pt")
    assert two["step"] == one["step"] == 4
    worst = moved = 0.0
    for net in ("G", "D"):
        init = from_init(cfg, net)
        for key, value in one[net].items():
            worst = max(worst, (two[net][key].float() - value.float()).abs().max().item())
            moved = max(moved, (init[key].float() - value.float()).abs().max().item())
    print(f"max |2 processes - 1 process| = {worst:.3g}; max |trained - initial| = {moved:.3g}")
    assert moved > 10 * TOLERANCE  # the comparison is between runs that really trained
    assert worst < TOLERANCE


def from_init(cfg, net: str) -> dict:
    from facegan.models import build_networks
    from facegan.training.trainer import seed_everything
    seed_everything(cfg.run.seed)
    G, D = build_networks(cfg)
    return (G if net == "G" else D).state_dict()


def test_the_global_batch_must_divide_among_the_processes():
    dist = distributed.Dist(rank=0, world=3)
    assert dist.per_rank_batch(48) == 16
    with pytest.raises(FaceganError, match="multiple of 3"):
        dist.per_rank_batch(128)


def test_sync_batchnorm_on_the_cpu_is_refused_before_anything_runs(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(FaceganError, match="SyncBatchNorm"):
        distributed.setup("cpu", sync_batchnorm=True)
    assert not torch.distributed.is_initialized()


def test_one_process_is_plain():
    dist = distributed.setup("cpu")
    net = torch.nn.Linear(2, 2)
    assert (dist.world, dist.main, dist.wrap(net)) == (1, True, net)
    assert dist.share(lambda: 7) == 7 and dist.stopping(True, 3) is True
