"""Soak: SIGKILL a real training process many times at random instants and resume it after each kill.

    python scripts/soak.py [--kills 20] [--seed 0] [--epochs 3] [--run-dir DIR] [--corpus] [--fuzz N]

After every kill the run folder must be consistent (every checkpoint loads, metrics.jsonl has each step
at most once and none missing up to the last checkpoint, epoch records in order); at the end the run
must have finished exactly its epochs. Prints what it did as counts, the last line as JSON. With
--corpus it also feeds the bad-image corpus through a folder and a zip source, and with --fuzz N runs
N generated command lines through the CLI, so one command gives all three of the issue's counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from tests.killing import kill_and_resume  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3, help="epochs the run is asked for (more are added when "
                    "a run finishes before its kill)")
    ap.add_argument("--run-dir", help="where the run goes (default: a temporary folder, removed after)")
    ap.add_argument("--corpus", action="store_true", help="also read the bad-image corpus (folder and zip)")
    ap.add_argument("--fuzz", type=int, default=0, metavar="N", help="also run N generated CLI argument lists")
    args = ap.parse_args()

    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="facegan-soak-") as tmp:
        run_dir = Path(args.run_dir or Path(tmp) / "run")
        start = time.monotonic()

        def report(kill):
            n = len(result_kills) + 1
            result_kills.append(kill)
            print(f"kill {n:3d}: {kill.mode:10s} n={kill.n} {'resume' if kill.resumed else 'first '} "
                  f"last.pt step {kill.check.last_step}, {kill.check.logged_steps} steps logged, "
                  f"{len(kill.check.temporaries)} temporary files: consistent", flush=True)
        result_kills: list = []
        result = kill_and_resume(run_dir, args.kills, seed=args.seed, epochs=args.epochs, on_kill=report)
        counts.update(result.counts())
        counts["kills_survived"] = sum(k.check.ok for k in result.kills)
        counts["final_steps"] = result.final.last_step
        counts["kill_seconds"] = round(time.monotonic() - start, 1)
        print(f"finished: epoch {result.final.last_epoch}, step {result.final.last_step}, every step logged once")
        if args.corpus:
            counts.update(_corpus(Path(tmp)))
        if args.fuzz:
            counts.update(_fuzz(args.fuzz))
    print(json.dumps(counts))
    return 0


def _corpus(tmp: Path) -> dict[str, int]:
    """Prepare the bad-image corpus as a folder and as a zip: every file is kept or counted as skipped."""
    from facegan.config import DataConfig
    from facegan.data.cache import prepare
    from tests.badfiles import make_bad_corpus, zip_corpus
    folder = tmp / "bad"
    expect = make_bad_corpus(folder)
    members = zip_corpus(folder, expect, tmp / "bad.zip")
    tried = kept = 0
    for spec in (folder, tmp / "bad.zip"):
        data = prepare(DataConfig(source=str(spec), resolution=32), root=tmp / "cache")
        tried += data.kept + sum(data.skipped.values())
        kept += data.kept
    return {"bad_corpus_files": len(expect), "bad_corpus_zip_members": len(members),
            "bad_files_tried": tried, "bad_files_kept_converted": kept, "bad_files_skipped": tried - kept}


def _fuzz(n: int) -> dict[str, int]:
    from tests.test_cli_fuzz import run_cases
    outcome = run_cases(n)
    return {"fuzz_cases": sum(outcome.values()), **{f"fuzz_{k}": v for k, v in outcome.items()}}


if __name__ == "__main__":
    sys.exit(main())
