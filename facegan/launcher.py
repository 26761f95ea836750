"""The dashboard's multi-GPU launcher, core part only: starts ``torchrun`` as a subprocess in its own
process group, reads progress from the run folder, stops it with SIGINT (then SIGTERM, SIGKILL).
Tested on 2 gloo CPU processes (tests/test_launcher.py). Not yet wired into facegan.job's registry or the
Train page; the command runs ``-m facegan`` from the current folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .config import Config

LOG_NAME = "torchrun.log"
CONFIG_NAME = "torchrun-config.json"


def torchrun_command(config_path: Path, run_dir: Path, nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "facegan", "train", "--config", str(config_path), "--run-dir", str(run_dir)]


def launch(cfg: Config, run_dir: Path, nproc: int, staging: Path) -> subprocess.Popen:
    """Start the torchrun job; the config and the log live in ``staging`` (RunDir.create refuses a
    run folder that already holds files, so they cannot go in ``run_dir`` before it exists)."""
    staging.mkdir(parents=True, exist_ok=True)
    config_path = staging / CONFIG_NAME
    config_path.write_text(cfg.to_json(), encoding="utf-8")
    log = open(staging / LOG_NAME, "ab")
    try:
        return subprocess.Popen(torchrun_command(config_path, run_dir, nproc), stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        log.close()


def stop(proc: subprocess.Popen, timeout: float = 60.0) -> int:
    """SIGINT to the process group (torchrun forwards it once to each worker, which checkpoints), then
    SIGTERM and SIGKILL after ``timeout`` each."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def read_progress(run_dir: Path) -> dict:
    """Latest step record, epoch and sample grid from the run folder."""
    out: dict = {"step": 0, "epoch": 0, "losses": {}, "latest_grid": None}
    metrics = run_dir / "metrics.jsonl"
    if metrics.is_file():
        for line in metrics.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            out["step"], out["epoch"] = rec.get("step", out["step"]), rec.get("epoch", out["epoch"])
            if rec.get("kind") == "step":
                out["losses"] = {k: v for k, v in rec.items() if k.startswith("loss")}
                out["images_per_s"] = rec.get("images_per_s")
            elif rec.get("kind") == "epoch":
                out["latest_grid"] = str(run_dir / rec["sample"])
    return out


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def error_line(tail: str) -> str | None:
    for line in tail.splitlines():
        if line.startswith("facegan: error:"):
            return line
    return None


def wait_until(cond, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()
