#!/usr/bin/env bash
# Does a test catch the break it guards against? Copy the working tree to a scratch folder, replace one
# piece of text in one file there, run the given tests, and say whether they went red.
#
#   bash scripts/break.sh NAME FILE OLD NEW TEST...
#   bash scripts/break.sh no-trim facegan/training/run_dir.py 'epochs_done is not None and' 'False and' \
#       tests/test_faults.py::test_a_kill_after_a_checkpoint_on_an_epochs_last_step_logs_that_epochs_end_once
#
# The copy (without .venv, .git, checkpoints, artifacts) goes to $SCRATCH (default /tmp/facegan-break) and
# runs with this checkout's .venv; its own facegan/ comes first on sys.path there. Prints one line:
# BREAK [NAME] -> RED (a test failed: the break is caught) or GREEN (not caught).
set -u
name=$1; file=$2; old=$3; new=$4; shift 4
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=${SCRATCH:-/tmp/facegan-break}
rm -rf "$scratch" && mkdir -p "$scratch"
(cd "$here" && tar --exclude=.venv --exclude=.git --exclude=checkpoints --exclude=artifacts -cf - .) | (cd "$scratch" && tar -xf -)
"$here/.venv/bin/python" - "$scratch/$file" "$old" "$new" <<'PY'
import sys
from pathlib import Path
path, old, new = sys.argv[1:]
text = Path(path).read_text()
if old not in text:
    sys.exit(f"break text not found in {path}")
Path(path).write_text(text.replace(old, new))
PY
cd "$scratch" || exit 2
out=$("$here/.venv/bin/python" -m pytest -q -x -p no:cacheprovider "$@" 2>&1 | tail -3)
if echo "$out" | grep -q "failed"; then verdict=RED; else verdict=GREEN; fi
echo "BREAK [$name] -> $verdict :: $(echo "$out" | tail -1)"
