"""Streamlit building blocks shared by the pages: the configuration store and the form generated from the
config's field metadata, run and checkpoint pickers, the training status panel, and a progress bar for
slow calls.

The configuration being edited lives in ``st.session_state`` as one flat ``{'section.name': value}``
dict (:func:`values`), not in the widgets: Streamlit forgets a widget's state when its page is left,
and the Data page, the Train page and the presets all edit the same settings.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import streamlit as st

from facegan import devices, job
from facegan.config import SECTIONS
from facegan.presets import PRESETS
from facegan.runs import RunInfo

from . import cached, charts, settings
from .forms import SECTION_TITLES, FieldSpec, field_specs, flatten, groups

STORE = "fg_config"
_MISSING = object()


# -- page furniture ----------------------------------------------------------------------------------

NAV_FLAG = "fg_nav"       # set by app.py on every run, before it runs the page
WANTED_PAGE = "fg_wanted"  # a page asked for before app.py had run, for app.py to open


def page_header(title: str, caption: str, page: str) -> None:
    """The page's title and caption. A page's address opened before any browser session has run
    ``app.py`` makes Streamlit run the page alone, in its old ``pages/`` folder mode (no navigation
    bar, no wide layout); then go through app.py, which opens this page again properly."""
    if not st.session_state.get(NAV_FLAG):
        st.session_state[WANTED_PAGE] = page
        st.switch_page("app.py")
    st.title(title, anchor=False)
    st.caption(caption)


def duration(seconds: float | None) -> str:
    """'45 s', '3 min 05 s', '2 h 10 min'."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


# -- the configuration being edited ------------------------------------------------------------------

def values() -> dict[str, Any]:
    """The flat configuration this browser session is editing (created from the default preset)."""
    if STORE not in st.session_state:
        st.session_state[STORE] = flatten(settings.default_config())
    return st.session_state[STORE]


def apply_preset(name: str) -> None:
    """Replace every setting by preset ``name``'s, except the data source and how it is read (chosen on
    the Data page; a resolution the preset sets is taken, though), the runs folder and the pages' own
    choices."""
    store = values()
    preset = PRESETS[name].overrides
    keep = {k: v for k, v in store.items()
            if (k.startswith("data.") and k not in preset) or k == "run.runs_root" or k.startswith("ui.")}
    store.clear()
    store.update(flatten(settings.default_config(name)))
    store.update(keep)


def _push(wkey: str, value) -> None:
    """Show ``value`` in widget ``wkey`` on this run (only when it differs: an unchanged widget keeps
    its own state)."""
    if st.session_state.get(wkey, _MISSING) != value:
        st.session_state[wkey] = value


def bind(wkey: str, skey: str, default=None, valid=None) -> dict:
    """Show the store's ``skey`` in widget ``wkey`` (``default`` when missing or not in ``valid``);
    returns the on_change arguments that copy the person's changes back into the store."""
    store = values()
    v = store.get(skey, default)
    if valid is not None and v not in valid:
        v = default
    store[skey] = v
    _push(wkey, v)
    return {"on_change": _copy, "args": (wkey, skey)}


def _copy(wkey: str, skey: str) -> None:
    values()[skey] = st.session_state.get(wkey)


def _sync(wkey: str, spec: FieldSpec) -> None:
    """on_change: copy a widget's new value into the store before the page re-runs."""
    ss = st.session_state
    if spec.kind in ("range", "pair"):
        values()[spec.key] = (ss.get(wkey + ".0"), ss.get(wkey + ".1"))
    else:
        values()[spec.key] = ss.get(wkey)


def field_widget(spec: FieldSpec, *, prefix: str = "cfg", disabled: bool = False, error: str | None = None,
                 label: str | None = None, help: str | None = None):
    """The widget of one config field, bound to the store: a selectbox for choices, a checkbox for
    booleans, a number box with the field's limits, two numbers for a (low, high) range or a pair, a
    text box for text. Shows ``error`` right under it. Returns the value shown."""
    store = values()
    wkey = f"{prefix}.{spec.key}"
    value = store.get(spec.key, spec.default)
    kw = dict(label=label or spec.label, help=help or spec.help, disabled=disabled, on_change=_sync,
              args=(wkey, spec))
    if spec.kind == "choice":
        choices = list(spec.choices)
        _push(wkey, value if value in choices else spec.default)
        fmt = (lambda v: f"{v} px") if spec.name == "resolution" else str
        out = st.selectbox(options=choices, key=wkey, format_func=fmt, **kw)
    elif spec.kind == "bool":
        _push(wkey, bool(value))
        out = st.checkbox(key=wkey, **kw)
    elif spec.kind in ("int", "float"):
        out = _number(spec, wkey, value, kw)
    elif spec.kind in ("range", "pair"):
        pair = value if isinstance(value, (tuple, list)) and len(value) == 2 else spec.default
        cols = st.columns(2)
        parts = []
        for i, (col, part) in enumerate(zip(cols, spec.part_labels())):
            with col:
                sub = FieldSpec(**{**spec.__dict__, "kind": "float", "optional": False})
                parts.append(_number(sub, f"{wkey}.{i}", pair[i], {**kw, "label": f"{kw['label']} · {part}",
                                                                   "help": kw["help"] if i == 0 else None}))
        out = tuple(parts)
    else:
        text = "" if value is None else str(value)
        _push(wkey, text)
        out = st.text_input(key=wkey, placeholder="empty" if spec.optional else None, **kw)
        if spec.optional and not out.strip():
            out = None
    if error:
        st.error(error, icon=":material/error:")
    store[spec.key] = out
    return out


def _number(spec: FieldSpec, wkey: str, value, kw: dict, placeholder: str | None = None):
    if spec.kind == "int":
        cast = int
        fmt = "%d"
    else:
        cast = float
        fmt = "%g"
    lo = None if spec.lo is None else cast(spec.lo)
    hi = None if spec.hi is None else cast(spec.hi)
    try:
        v = None if value is None else cast(value)
    except (TypeError, ValueError):
        v = spec.default
    if v is not None and ((lo is not None and v < lo) or (hi is not None and v > hi)):
        v = spec.default
    _push(wkey, v)
    extra = {"value": None} if spec.optional else {}
    return st.number_input(key=wkey, min_value=lo, max_value=hi, step=cast(spec.step or 1), format=fmt,
                           placeholder=placeholder or ("empty" if spec.optional else None), **extra, **kw)


def config_form(errors: dict[str, str], *, disabled: bool = False, columns: int = 3) -> None:
    """Every config section as a tab of widgets, sub-grouped by the fields' 'group' metadata, with each
    field's validation message right under it."""
    sections = list(SECTION_TITLES)
    tabs = st.tabs([SECTION_TITLES[s] for s in sections])  # fixed labels: a tab stays open across re-runs
    for tab, section in zip(tabs, sections):
        with tab:
            st.caption(SECTIONS[section].__doc__.strip())
            for group, specs in groups(field_specs(section)):
                if group:
                    st.markdown(f"**{group.capitalize()}**")
                cols = st.columns(columns)
                for i, spec in enumerate(specs):
                    with cols[i % columns]:
                        field_widget(spec, disabled=disabled, error=errors.get(spec.key))


# -- runs and checkpoints ----------------------------------------------------------------------------

def run_label(r: RunInfo) -> str:
    bits = [r.preset, f"{r.resolution} px" if r.resolution else None,
            f"{r.epochs_done}/{r.epochs} epochs" if r.epochs else None, (r.created or "").replace("T", " ")[:16]]
    return f"{r.name}  ·  " + ", ".join(b for b in bits if b)


def run_picker(label: str, key: str, runs: list[RunInfo], *, help: str | None = None) -> RunInfo | None:
    """A selectbox of runs (newest first); remembers the choice across pages in the store under
    ``ui.<key>``; returns the RunInfo picked, or None when there are no runs."""
    if not runs:
        return None
    names = [r.name for r in runs]
    by_name = {r.name: r for r in runs}
    name = st.selectbox(label, names, key=key, format_func=lambda n: run_label(by_name[n]), help=help,
                        **bind(key, f"ui.{key}", names[0], names))
    return by_name[name]


def checkpoint_label(stem: str) -> str:
    if stem == "last":
        return "latest (last)"
    if stem == "best":
        return "best"
    if stem.startswith("epoch_"):
        return f"end of epoch {int(stem[6:])}"
    return stem


def checkpoint_picker(run: RunInfo, key: str) -> str | None:
    if not run.checkpoints:
        return None
    return st.selectbox("Checkpoint", list(run.checkpoints), key=key, format_func=checkpoint_label,
                        help="Which saved moment of the run to draw faces from: the latest, or the end of "
                             "an earlier epoch.")


def pick_trained_run(key: str, empty_message: str) -> tuple[RunInfo, str | None]:
    """The run and checkpoint pickers of the pages that draw faces, the demo generator first when it
    loads; stops the page with a pointer to Train when there is nothing to draw from."""
    demo, _ = cached.demo_run()
    runs = ([demo] if demo else []) + [r for r in cached.runs(settings.runs_root()) if r.can_sample]
    if not runs:
        st.info(empty_message, icon=":material/info:")
        st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
        st.stop()
    c1, c2 = st.columns([3, 1])
    with c1:
        run = run_picker("Run", f"{key}_run", runs)
    with c2:
        which = checkpoint_picker(run, key=f"{key}_ckpt.{run.name}")
    return run, which


def live_run_dirs() -> list[str]:
    """Run folders that must not be renamed or deleted: the live training job's."""
    s = job.status()
    return [s.run_dir] if s.live and s.run_dir else []


# -- the training job --------------------------------------------------------------------------------

STATE_LOOK = {
    "starting": ("Starting", "blue", ":material/hourglass_top:"),
    "running": ("Training", "green", ":material/play_arrow:"),
    "paused": ("Paused", "orange", ":material/pause:"),
    "stopping": ("Stopping", "orange", ":material/stop:"),
    "stopped": ("Stopped", "gray", ":material/stop_circle:"),
    "finished": ("Finished", "blue", ":material/check_circle:"),
    "failed": ("Failed", "red", ":material/error:"),
    "idle": ("No training yet", "gray", ":material/bedtime:"),
}


def state_badge(s: job.JobStatus) -> None:
    text, color, icon = STATE_LOOK.get(s.state, (s.state, "gray", None))
    if s.state == "paused" and not s.parked:
        text = "Pausing…"
    elif s.state == "starting" and s.preparing:
        text = "Preparing the faces"
    st.badge(text, color=color, icon=icon)


def progress_text(s: job.JobStatus) -> str:
    if s.preparing:
        done, total = s.preparing
        return f"Preparing the faces: {done:,} of {total:,}"
    if s.state == "starting":
        return "Starting…"
    bits = [f"epoch {s.epoch} of {s.epochs}", f"step {s.step:,} of {s.total_steps:,}" if s.total_steps else None,
            f"{s.progress:.0%}"]
    if s.live and s.eta_seconds is not None:
        bits.append(f"about {duration(s.eta_seconds)} left")
    if s.images_per_s:
        bits.append(f"{s.images_per_s:,.0f} images/s")
    return " · ".join(b for b in bits if b)


def job_progress(s: job.JobStatus) -> None:
    if s.preparing:
        done, total = s.preparing
        st.progress(done / total if total else 0.0, text=progress_text(s))
    else:
        st.progress(min(1.0, max(0.0, s.progress)), text=progress_text(s))


def processes_input(key: str) -> int:
    """How many GPUs to train on: offered only where there is more than one; 1 elsewhere."""
    gpus = devices.gpu_count()
    if gpus < 2:
        return 1
    return int(st.number_input(
        "GPUs", min_value=1, max_value=gpus, value=gpus, step=1, key=key,
        help="More than one trains with torchrun, one process per GPU (DistributedDataParallel). The batch "
             "size is the global batch, shared by the GPUs, so it must divide by their number. A multi-GPU "
             "run can be stopped and continued, but not paused."))


def job_controls(s: job.JobStatus, key: str = "job") -> None:
    """Pause / Resume / Stop for the live job."""
    handle = job.current()
    if handle is None or not s.live:
        return
    c1, c2, _ = st.columns([1, 1, 4])
    with c1:
        if s.state == "paused":
            st.button("Resume", icon=":material/play_arrow:", key=f"{key}_resume", on_click=handle.resume,
                      width="stretch", type="primary")
        else:
            st.button("Pause", icon=":material/pause:", key=f"{key}_pause", on_click=handle.pause,
                      width="stretch", disabled=s.state not in ("running", "starting") or not s.can_pause,
                      help=None if s.can_pause else "A multi-GPU run cannot pause; Stop saves a checkpoint "
                                                    "and Continue picks it up.")
    with c2:
        st.button("Stop", icon=":material/stop:", key=f"{key}_stop", on_click=handle.stop, width="stretch",
                  disabled=s.state == "stopping",
                  help="Stop after the current step; a checkpoint is saved so the run can be resumed.")


def job_messages(s: job.JobStatus) -> None:
    for w in dict.fromkeys(s.warnings):  # each once, in order
        st.warning(w, icon=":material/warning:")
    if s.error:
        head, _, rest = s.error.partition("\n")
        st.error(head, icon=":material/error:")
        if rest.strip():
            with st.expander("Technical details"):
                st.code(rest.strip(), language=None)


def epoch_grid(run_dir: str, key: str, width: int = 520, live: bool = True) -> None:
    """The newest epoch's sample grid, with a slider over the earlier ones (which follows the newest
    epoch unless the person moved it back)."""
    from facegan.training.run_dir import RunDir
    samples = RunDir(run_dir).samples()
    if not samples:
        st.caption("The first grid of faces appears at the end of epoch 1." if live else
                   "No grid of faces: the run stopped before the end of its first epoch.")
        return
    epochs = [e for e, _ in samples]
    latest = epochs[-1]
    follow = f"{key}__latest"
    if len(epochs) > 1:
        if st.session_state.get(key) not in epochs or st.session_state.get(follow) == st.session_state.get(key):
            st.session_state[key] = latest
        epoch = st.select_slider("Epoch", options=epochs, key=key,
                                 help="Slide back to see how the faces looked after earlier epochs.")
    else:
        epoch = latest
    st.session_state[follow] = latest
    path = dict(samples)[epoch]
    st.image(str(path), caption=f"Faces after epoch {epoch} (the same random inputs every epoch)", width=width)


def training_charts(run_dir: str, key: str) -> None:
    records = cached.metrics(run_dir)
    df = charts.step_frame(records)
    if df.empty:
        st.caption("Loss curves appear after the first logged steps.")
        return
    ends = [r["step"] for r in records if r.get("kind") == "epoch"]
    st.plotly_chart(charts.loss_figure(df, ends), key=f"{key}_losses", config={"displaylogo": False})


# -- slow calls --------------------------------------------------------------------------------------

def run_with_progress(fn: Callable[[Callable], Any], text: str) -> Any:
    """Run ``fn(progress)`` in a worker thread while a progress bar on this page follows it.
    ``progress`` may be called as ``progress(done, total)``, ``progress(stage, done, total)`` or
    ``progress(fraction)``, from any thread. Returns fn's result or raises its exception."""
    bar = st.progress(0.0, text=text)
    box: dict[str, Any] = {"frac": 0.0, "msg": text}

    def progress(*args):
        stage = None
        if args and isinstance(args[0], str):  # (stage, done, total)
            stage, args = args[0], args[1:]
        a = args[0] if args else 0
        b = args[1] if len(args) > 1 else None
        msg = f"{text}: {stage}" if stage else text
        if isinstance(b, (int, float)) and not isinstance(b, bool) and b:
            box["frac"], box["msg"] = a / b, f"{msg} ({a:,} of {b:,})"
        else:
            box["frac"], box["msg"] = float(a or 0), msg

    out: dict[str, Any] = {}

    def work():
        try:
            out["value"] = fn(progress)
        except BaseException as e:  # handed to the page's thread below
            out["error"] = e

    t = threading.Thread(target=work, name="facegan-dashboard-work", daemon=True)
    t.start()
    while t.is_alive():
        t.join(0.25)
        bar.progress(min(1.0, max(0.0, box["frac"])), text=box["msg"])
    bar.empty()
    if "error" in out:
        raise out["error"]
    return out.get("value")


def remember(key: str, value) -> None:
    values()[f"ui.{key}"] = value


def recall(key: str, default=None):
    return values().get(f"ui.{key}", default)


def path_exists(p: str) -> bool:
    try:
        return Path(p).expanduser().exists()
    except OSError:
        return False
