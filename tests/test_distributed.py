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
from facegan.training import distributed
from facegan.training.checkpoint import load_checkpoint

from .ddp_grads import relative_differences, step_gradients
from .helpers import ROOT, tiny_cli

TINY = tiny_cli()
# Largest ||gradient of 2 processes - gradient of 1|| / ||gradient of 1|| over G's and D's tensors after one
# step (tests/ddp_grads.py). Only float32 summation order differs between the arms (two half-batch sums
# averaged by all_reduce against one sum, other thread counts). Measured on this project's 2-core AMX
# machine (2026-12-04) across OMP_NUM_THREADS 1 and 2 in each arm: at most 1.2e-6 (R1) and 6.6e-7
# (WGAN-GP); the same ranks without the all_reduce: at least 0.24 and 0.09 on every tensor. 1e-4 sits
# ~80x above the first and ~900x below the second (`pytest tests/test_distributed.py -s` prints both).
TOLERANCE = 1e-4

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc: int, *args: str, module: tuple[str, ...] = ("facegan", "train"),
             timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr",
           "127.0.0.1", "--master_port", str(free_port()), "-m", *module, *args]
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
@pytest.mark.parametrize("penalty", [
    ["loss=hinge", "gp=r1", "gp_weight=1"], ["loss=wgan", "gp=wgan-gp"],
    # DiffAugment's per-image draws are taken for the global batch and split like the latents
    ["loss=hinge", "gp=r1", "gp_weight=1", "diffaugment=color,translation,cutout", "augment_p=0.5"]])
def test_two_processes_average_gradients_like_one_process(tmp_path, penalty):
    """One step's gradients of G and D (the penalty's double backward included) on each of 2 processes
    equal one process's on the whole global batch, relative to each tensor's norm; the same ranks with the
    all-reduce left out are far from it, so the comparison can fail."""
    torchrun(2, str(tmp_path), *penalty, module=("tests.ddp_grads",))
    one = step_gradients(penalty)
    for rank in (0, 1):
        saved = torch.load(tmp_path / f"rank{rank}.pt")
        averaged = max(relative_differences(saved["averaged"], one).values())
        alone = min(relative_differences(saved["alone"], one).values())
        print(f"rank {rank}: largest relative gradient difference {averaged:.2g} (tolerance {TOLERANCE:g}, "
              f"margin {TOLERANCE / averaged:.0f}x); without all_reduce the smallest is {alone:.2g} "
              f"({alone / TOLERANCE:.0f}x the tolerance)")
        assert averaged < TOLERANCE
        assert alone > 100 * TOLERANCE  # every tensor: a missing all_reduce is caught whichever it hits


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
