"""Is a run folder whole? The checks a kill, a full disk or a crash must never make fail.

:func:`check_run` reads a run folder the way a resume and the dashboard would and lists every way it is
inconsistent: a checkpoint that does not load (or whose name disagrees with its epoch), a step logged
twice or never, epoch records out of order or for epochs no checkpoint reached. A run killed a moment
ago may have logged steps past its last checkpoint (a resume trims them) and a torn last line; neither
is a problem. The temporary file of an atomic write cut short (``.NAME.*.tmp``) is one, unless
``after_kill``: a SIGKILL can leave one behind (the next resume removes it), a write that failed must not.
With ``epochs`` it also checks that the run finished exactly that many epochs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import CheckpointError, load_checkpoint
from .run_dir import RunDir


@dataclass
class RunCheck:
    path: Path
    problems: list[str] = field(default_factory=list)
    checkpoints: dict[str, int] = field(default_factory=dict)  # file name -> its step
    last_step: int | None = None                              # of checkpoints/last.pt
    last_epoch: int | None = None
    logged_steps: int = 0                                     # step records in metrics.jsonl
    temporaries: list[str] = field(default_factory=list)      # leftovers of writes cut short

    @property
    def ok(self) -> bool:
        return not self.problems


def check_run(path: str | Path, *, epochs: int | None = None, after_kill: bool = False) -> RunCheck:
    """Every inconsistency of the run folder at ``path`` (see the module docstring)."""
    run = RunDir(path)
    out = RunCheck(run.path)
    if not run.config_path.is_file():
        out.problems.append("no config.json")
        return out
    try:
        json.loads(run.config_path.read_text(encoding="utf-8"))
    except ValueError as e:
        out.problems.append(f"config.json does not parse: {e}")

    epoch_of: dict[str, int] = {}
    if run.checkpoints_dir.is_dir():
        for p in sorted(run.checkpoints_dir.iterdir()):
            if p.suffix != ".pt" or p.name.startswith("."):
                continue
            try:
                ckpt = load_checkpoint(p)
            except CheckpointError as e:
                out.problems.append(f"checkpoint {p.name} does not load: {e}")
                continue
            out.checkpoints[p.name] = int(ckpt["step"])
            epoch_of[p.name] = int(ckpt["epoch"])
    out.temporaries = [p.name for p in run.temporaries()]
    if out.temporaries and not after_kill:
        out.problems.append(f"temporary files left by a write cut short: {', '.join(out.temporaries[:5])}")
    for n, p in run.epoch_checkpoints():
        if p.name in epoch_of and epoch_of[p.name] != n:
            out.problems.append(f"{p.name} holds epoch {epoch_of[p.name]}")
    if "last.pt" in out.checkpoints:
        out.last_step, out.last_epoch = out.checkpoints["last.pt"], epoch_of["last.pt"]
    elif out.checkpoints:
        out.problems.append("epoch checkpoints but no last.pt")

    lines = run.metrics_path.read_bytes().split(b"\n") if run.metrics_path.is_file() else []
    records = []
    for i, line in enumerate(lines):
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            if i < len(lines) - 1 and any(lines[i + 1:]):  # only the very last line may be torn by a kill
                out.problems.append(f"metrics.jsonl line {i + 1} is not JSON")
    steps = [r["step"] for r in records if r.get("kind") == "step"]
    out.logged_steps = len(steps)
    # log_every > 1 logs every k-th step; the steps must still be evenly spaced, each once.
    every = steps[0] if steps else 1
    if steps != list(range(every, every * len(steps) + 1, every)):
        dup = sorted({s for s in steps if steps.count(s) > 1})
        out.problems.append(f"step records are not {every}, {2 * every}, ... once each"
                            + (f" (logged twice: {dup[:5]})" if dup else f" (got {_span(steps)})"))
    ends = [r for r in records if r.get("kind") == "epoch"]
    if [r["epoch"] for r in ends] != list(range(1, len(ends) + 1)):
        out.problems.append(f"epoch records are {[r['epoch'] for r in ends]}, not 1, 2, ...")
    reached = out.last_step or 0
    if steps and reached and max(steps) < reached - every + 1:
        out.problems.append(f"last.pt is at step {reached} but metrics.jsonl stops at step {max(steps)}")
    if out.last_epoch is not None and len(ends) < out.last_epoch:
        out.problems.append(f"last.pt finished epoch {out.last_epoch} but only {len(ends)} epoch records")
    if out.last_epoch is not None and [e for e, _ in run.samples()][: out.last_epoch] != \
            list(range(1, out.last_epoch + 1)):
        out.problems.append(f"sample grids {[e for e, _ in run.samples()]} do not cover epochs "
                            f"1..{out.last_epoch}")

    if epochs is not None:
        if out.last_epoch != epochs:
            out.problems.append(f"last.pt is at epoch {out.last_epoch}, expected {epochs}")
        if len(ends) != epochs:
            out.problems.append(f"{len(ends)} epoch records, expected {epochs}")
        if steps and out.last_step is not None and max(steps) != out.last_step - out.last_step % every:
            out.problems.append(f"steps logged up to {max(steps)} but the run ended at step {out.last_step}")
        if not run.gif_path.is_file():
            out.problems.append("no training.gif")
    return out


def _span(steps: list[int]) -> str:
    if not steps:
        return "none"
    missing = sorted(set(range(1, max(steps) + 1)) - set(steps))
    return f"{len(steps)} records from {steps[0]} to {steps[-1]}" + (f", missing {missing[:5]}" if missing else "")
