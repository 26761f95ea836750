"""Generated command lines: every one is either a valid run or a one-line message with exit status 2.

``facegan.cli.main`` runs in-process (500 interpreter start-ups would take minutes). Commands that
would train or write faces are given run folders and checkpoints that cannot be used (missing, empty,
random bytes, a folder that is not a run), so every case ends in well under a second; the commands
that only resolve a configuration (``config``, ``arch``, ``presets``) can succeed, and about half do.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from facegan import cli
from facegan.config import all_keys, iter_fields

CASES = 500


def _field_values(key: str) -> st.SearchStrategy:
    """Values near what the field allows: its choices, numbers around its limits, its default."""
    section, name = key.split(".")
    f = next(f for f, _ in iter_fields(section) if f.name == name)
    meta, options = f.metadata, [st.just(str(f.default))]
    if meta.get("choices"):
        options.append(st.sampled_from([str(c) for c in meta["choices"]]))
    lo, hi = meta.get("lo"), meta.get("hi")
    if lo is not None or hi is not None:
        lo_, hi_ = (lo if lo is not None else -1e6), (hi if hi is not None else 1e6)
        options.append(st.floats(lo_ - 2, hi_ + 2).map(lambda v: f"{v:g}"))
        if isinstance(f.default, int) and not isinstance(f.default, bool):
            # small values (big ones build big networks), but never below the field's own lower limit
            options.append(st.integers(int(lo_) - 2, max(int(lo_), int(min(hi_, 64))) + 2).map(str))
    return st.one_of(*options)


# Keys whose valid values build big networks (arch) are kept small: sizes are not what is tested here.
SMALL = {"model.g_width": "8", "model.d_width": "8", "model.latent_dim": "16"}
junk = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def override(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(junk)                                      # not key=value at all, or anything
    if kind == 1:
        return f"{draw(junk)}={draw(junk)}"                    # an unknown key
    key = draw(st.sampled_from(all_keys()))
    name = key.split(".")[1] if draw(st.booleans()) else key   # short names work when unique
    if key in SMALL and kind < 8:
        return f"{name}={SMALL[key]}"
    value = draw(_field_values(key)) if kind < 8 else draw(junk)
    return f"{name}={value}"


@st.composite
def config_args(draw, files: dict[str, Path]) -> list[str]:
    args: list[str] = []
    if draw(st.integers(0, 4)) == 0:
        args += ["--config", str(draw(st.sampled_from(sorted(files.values()))))]
    if draw(st.integers(0, 2)) == 0:
        args += ["--preset", draw(st.sampled_from(["dcgan-paper", "stable-64", "faces-128", "nope", ""]))]
    for o in draw(st.lists(override(), max_size=4)):
        args += ["--set", o]
    if draw(st.integers(0, 3)) == 0:
        args += ["--resolution", draw(st.sampled_from(["32", "64", "128", "48", "x", "-1"]))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--crop", draw(st.sampled_from(["auto", "center", "face", "none", "square"]))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--limit", draw(st.sampled_from(["1", "100", "0", "-5", "ten"]))]
    if draw(st.integers(0, 3)) == 0:
        args += ["--data", draw(st.sampled_from(["synthetic", "celeba:/nowhere", "ffhq:", "x.zip"]))]
    return args


@st.composite
def argv(draw, files: dict[str, Path]) -> list[str]:
    cmd = draw(st.sampled_from(["config", "config", "arch", "train", "sample", "interpolate", "export",
                                "evaluate", "gif", "presets", "junk"]))
    if cmd in ("config", "arch"):
        extra = ["--fields"] if cmd == "config" and draw(st.integers(0, 9)) == 0 else []
        extra += ["--json"] if cmd == "arch" and draw(st.booleans()) else []
        return [cmd, *draw(config_args(files)), *extra]
    if cmd == "presets":
        return [cmd, *draw(st.lists(junk, max_size=1))]
    if cmd == "junk":
        return draw(st.lists(junk, max_size=4))
    run = str(draw(st.sampled_from(sorted(files.values()))))
    if cmd == "train":  # always a resume of something that is not a resumable run
        tail = draw(st.sampled_from([[], ["--run-dir", run], ["--run-dir", run, "--epochs", "2"],
                                     ["--run-dir", run, "--set", "epochs=2"], ["--epochs", "x"]]))
        return ["train", "--resume", *tail]
    if cmd == "gif":
        return ["gif", run]
    args = [cmd, run]
    out = str(files["folder"] / "out.png")
    if cmd in ("sample", "interpolate", "export"):
        args += ["--out", out]
    if cmd == "interpolate":
        args += ["--mode", draw(st.sampled_from(["1d", "2d", "3d"]))]
    if cmd != "export" and draw(st.booleans()):
        args += ["--n", draw(st.sampled_from(["1", "0", "-3", "many"]))]
    if draw(st.booleans()):
        args += ["--checkpoint", draw(st.sampled_from(["last", "best", "epoch_3", "epoch_x", "../x"]))]
    if cmd == "evaluate":
        args += ["--features", "lite0"]
    return args


def unusable_files(folder: Path) -> dict[str, Path]:
    """Config files and run paths to point the commands at, none of which holds a trained run."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"folder": folder, "missing": folder / "missing", "empty.pt": folder / "empty.pt",
             "noise.pt": folder / "noise.pt", "noise.safetensors": folder / "noise.safetensors",
             "config.json": folder / "config.json", "bad.json": folder / "bad.json",
             "norun": folder / "norun"}
    files["empty.pt"].write_bytes(b"")
    files["noise.pt"].write_bytes(bytes(range(256)) * 8)
    files["noise.safetensors"].write_bytes(b"\xff" * 64)
    files["config.json"].write_text(cli.from_preset("dcgan-paper", []).to_json())
    files["bad.json"].write_text('{"data": {"resolution": "sixty-four"}, "nonsense": 1')
    files["norun"].mkdir(exist_ok=True)
    return files


def check_argv(args: list[str]) -> str:
    """Run one command line; 'valid' or 'invalid' (exit 2 with a message), else an AssertionError."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(args)
        except SystemExit as e:  # argparse: --help, --version, usage errors
            code = e.code
    stderr = err.getvalue()
    where = f"`python -m facegan {shlex.join(args)}`"
    assert "Traceback" not in stderr, f"{where} printed a traceback:\n{stderr}"
    if code == 0:
        assert out.getvalue().strip(), f"{where} succeeded without output"
        return "valid"
    assert code == 2, f"{where} exited {code}: {stderr}"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    assert "error:" in last, f"{where} exited 2 without a message: {stderr!r}"
    if last.startswith("facegan: error:"):  # facegan's own messages are one line; argparse adds usage
        assert len(stderr.strip().splitlines()) == 1, f"{where}: more than one line: {stderr}"
    return "invalid"


def run_cases(n: int = CASES) -> Counter:
    """Run ``n`` generated command lines through check_argv; the count of each outcome."""
    outcome: Counter = Counter()
    with tempfile.TemporaryDirectory(prefix="facegan-fuzz-") as tmp:
        files = unusable_files(Path(tmp))

        @settings(max_examples=n, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(argv(files))
        def one(args):
            outcome[check_argv(args)] += 1
        one()
    return outcome


def test_generated_command_lines_run_or_exit_2_with_a_message():
    outcome = run_cases(CASES)
    assert sum(outcome.values()) >= CASES
    # both branches are exercised in earnest, not just one
    assert outcome["valid"] >= CASES // 10 and outcome["invalid"] >= CASES // 10, outcome

