"""Kill real training processes with SIGKILL and resume them, checking the run folder after every kill.

Used by tests/test_faults.py (a few kills) and scripts/soak.py (many). Each child is a real
``python -m facegan train`` process. It dies in one of four ways, drawn from a seeded RNG:

- ``random``: the parent sends SIGKILL after a random delay counted from the child's first logged step;
- ``checkpoint``: inside its N-th checkpoint write, the child SIGKILLs itself after writing part (or
  all) of the temporary file but before the rename that would make it the checkpoint;
- ``grid``: at its N-th epoch end, just before or just after writing the epoch's sample grid;
- ``log``: in its N-th metrics.jsonl append, after writing half the line (a torn record).

One more, never drawn at random (``modes=("epoch-end",)``): ``epoch-end`` lets a checkpoint be taken on
an epoch's last step (the time-based one), lets the epoch end write its grid and record, and dies as
the epoch-end checkpoint begins: the resume starts from that last step with the epoch's record already
logged, which it must trim (the soak once found it logged twice).

The hooks wrap the functions the trainer calls in the child process only (``python -m tests.killing
MODE N HALF -- ARGS``): the trainer itself runs unchanged. A kill before the first checkpoint leaves
nothing to resume; the run is then started again, as the trainer's message tells a person to do.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from facegan.training.run_check import RunCheck, check_run
from facegan.training.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[1]
MODES = ("random", "checkpoint", "grid", "log")
STEPS_PER_EPOCH = 4  # of the tiny run below (64 faces, batch 16)
SECONDS_PER_EPOCH = 0.15  # of the tiny run below on this 2-core machine; only scales the random delays


def train_args(run_dir: Path, epochs: int, *, resume: bool, images: int = 64) -> list[str]:
    """A tiny, fast run: 32 px, narrow networks, 4 steps an epoch, a checkpoint about every step."""
    if resume:
        return ["train", "--resume", "--run-dir", str(run_dir), "--epochs", str(epochs)]
    return ["train", "--data", "synthetic", "--resolution", "32", "--epochs", str(epochs), "--batch-size", "16",
            "--run-dir", str(run_dir), "--set", f"synthetic_count={images}", "--set", "g_width=8",
            "--set", "d_width=8", "--set", "log_every=1", "--set", "checkpoint_minutes=0.001",
            "--set", "keep_checkpoints=2"]


@dataclass
class Kill:
    mode: str
    n: int
    resumed: bool           # the killed process was a resume
    check: RunCheck         # the run folder just after the kill


@dataclass
class SoakResult:
    kills: list[Kill] = field(default_factory=list)
    fresh_starts: int = 0    # kills that came before any checkpoint existed
    finished_early: int = 0  # children that finished before their kill came (the run was then extended)
    epochs: int = 0          # what the run was finally asked for
    final: RunCheck | None = None

    def counts(self) -> dict[str, int]:
        by_mode = {m: sum(k.mode == m for k in self.kills) for m in MODES}
        return {"kills": len(self.kills), **{f"kills_{m}": v for m, v in by_mode.items()},
                "kills_during_resume": sum(k.resumed for k in self.kills), "fresh_starts": self.fresh_starts,
                "finished_before_kill": self.finished_early, "final_epochs": self.epochs}


def kill_and_resume(run_dir: Path, kills: int, *, seed: int = 0, epochs: int = 3,
                    modes: tuple[str, ...] = MODES, on_kill=None, timeout: float = 120) -> SoakResult:
    """Train into ``run_dir``, killing the process ``kills`` times and resuming after each, then let the
    last resume finish. Raises AssertionError when a kill leaves the folder inconsistent or a resume
    fails. ``modes`` are tried in turn (the first ``len(modes)`` kills cover each one), then drawn."""
    rng = random.Random(seed)
    out = SoakResult(epochs=epochs)
    run_dir = Path(run_dir)
    while True:
        resume = RunDir(run_dir).checkpoint_path("last").is_file()
        if not resume and run_dir.exists():
            shutil.rmtree(run_dir)  # killed before its first checkpoint: nothing to resume
            out.fresh_starts += 1
        args = train_args(run_dir, out.epochs, resume=resume)
        if len(out.kills) >= kills:
            res = subprocess.run([sys.executable, "-m", "facegan", *args], cwd=ROOT, capture_output=True,
                                 text=True, timeout=timeout)
            assert res.returncode == 0, f"the final resume failed: {res.stderr}"
            out.final = check_run(run_dir, epochs=out.epochs)
            assert out.final.ok, f"after {len(out.kills)} kills: {out.final.problems}"
            return out
        i = len(out.kills)
        mode = modes[i] if i < len(modes) else rng.choice(modes)
        n = rng.randint(1, 4 if mode in ("grid", "epoch-end") else 8)
        rc, err = _run_child(run_dir, args, mode, n, rng, timeout)
        if rc == 0:  # the kill came too late: the run finished; give it more epochs and try again
            out.finished_early += 1
            out.epochs += 2
            continue
        assert rc == -signal.SIGKILL, f"training exited with {rc} instead of being killed: {err}"
        check = check_run(run_dir, after_kill=True)
        assert check.ok, f"after kill {i + 1} ({mode} {n}): {check.problems}"
        out.kills.append(Kill(mode, n, resume, check))
        if on_kill:
            on_kill(out.kills[-1])


def _run_child(run_dir: Path, args: list[str], mode: str, n: int, rng: random.Random,
               timeout: float) -> tuple[int, str]:
    half = rng.random() < 0.5
    cmd = ([sys.executable, "-m", "facegan", *args] if mode == "random" else
           [sys.executable, "-m", "tests.killing", mode, str(n), str(int(half)), "--", *args])
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if mode == "random":
        metrics = RunDir(run_dir).metrics_path
        before = metrics.stat().st_size if metrics.exists() else 0
        end = time.monotonic() + timeout
        # count from the child's first step (start-up is seconds of imports; the run itself is short)
        while proc.poll() is None and time.monotonic() < end and \
                (not metrics.exists() or metrics.stat().st_size == before):
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 4 * SECONDS_PER_EPOCH))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"training ({mode} {n}) did not end within {timeout} s") from None
    return proc.returncode, err


# -- the child: install one hook, then run the command line -------------------------------------------

def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _child(mode: str, n: int, half: bool, argv: list[str]) -> int:
    from facegan import cli
    from facegan.training import checkpoint, trainer
    calls = {"n": 0}

    def nth() -> bool:
        calls["n"] += 1
        return calls["n"] == n

    if mode == "checkpoint":
        real_writer = checkpoint.atomic_writer

        @contextlib.contextmanager
        def writer(path):
            with real_writer(path) as f:
                yield f
                if nth():  # the writer's temporary file holds the checkpoint, or half of it; no rename yet
                    f.flush()
                    if half:
                        f.truncate(f.tell() // 2)
                    _die()
        checkpoint.atomic_writer = writer
    elif mode == "grid":
        real_png = trainer.save_png

        def save_png(*a, **kw):
            if not nth():
                return real_png(*a, **kw)
            if not half:
                real_png(*a, **kw)
            _die()
        trainer.save_png = save_png
    elif mode == "epoch-end":
        real_save = trainer.save_checkpoint
        armed = {"on": False}
        trainer.Control.checkpoint_requested = lambda self: True  # a checkpoint after every step

        def save(path, payload):
            if armed["on"]:  # the epoch-end checkpoint after a checkpoint on the epoch's last step
                _die()
            written = real_save(path, payload)
            if payload["batch"] == STEPS_PER_EPOCH and nth():
                armed["on"] = True
            return written
        trainer.save_checkpoint = save
    elif mode == "log":
        real_log = RunDir.log

        def log(self, record):
            if not nth():
                return real_log(self, record)
            import json
            line = json.dumps(record) + "\n"
            with open(self.metrics_path, "a", encoding="utf-8") as f:
                f.write(line[: len(line) // 2])
            _die()
        RunDir.log = log
    else:
        raise SystemExit(f"unknown mode {mode}")
    return cli.main(argv)


if __name__ == "__main__":
    mode, n, half, sep, *rest = sys.argv[1:]
    assert sep == "--"
    sys.exit(_child(mode, int(n), half == "1", rest))
