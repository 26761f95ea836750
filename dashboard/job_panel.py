"""The one background training job on a page: its state, progress line, Pause / Resume / Stop, warnings
and errors, the GPU count to start it with, and its curves and newest grid of faces."""

from __future__ import annotations

import streamlit as st

from facegan import devices, job

from . import cached, charts
from .page import duration


def live_run_dirs() -> list[str]:
    """Run folders that must not be renamed or deleted: the live training job's."""
    s = job.status()
    return [s.run_dir] if s.live and s.run_dir else []


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
    """The newest epoch's sample grid, with a slider over the earlier ones that follows the newest epoch
    until the person moves it back, and stays on their epoch until they move it to the newest again.

    Following is a fresh slider for each newest epoch (key ``{key}.{epoch}``, defaulting to it), not the
    page setting one slider's value: a rerun the browser asks for just before such a set carries the old
    value, which Streamlit cannot tell from the person's choice (the browser test once saw a finished run
    show epoch 59's grid under a slider at 60). Only the slider's own change callback pins an epoch."""
    from facegan.training.run_dir import RunDir
    samples = RunDir(run_dir).samples()
    if not samples:
        st.caption("The first grid of faces appears at the end of epoch 1." if live else
                   "No grid of faces: the run stopped before the end of its first epoch.")
        return
    epochs = [e for e, _ in samples]
    latest = epochs[-1]
    pin = f"{key}__pinned"
    pinned = st.session_state.get(pin) if st.session_state.get(pin) in epochs else None
    if len(epochs) > 1:
        slider = f"{key}.pinned" if pinned is not None else f"{key}.{latest}"
        epoch = st.select_slider("Epoch", options=epochs, value=latest if pinned is None else pinned, key=slider,
                                 on_change=_pin_epoch, args=(slider, pin, latest),
                                 help="Slide back to see how the faces looked after earlier epochs.")
    else:
        epoch = latest
    path = dict(samples)[epoch]
    st.image(str(path), caption=f"Faces after epoch {epoch} (the same random inputs every epoch)", width=width)


def _pin_epoch(slider: str, pin: str, latest: int) -> None:
    """The person moved the epoch slider: keep their epoch, or follow the newest if they chose it."""
    chosen = st.session_state.get(slider)
    st.session_state[pin] = None if chosen is None or chosen >= latest else chosen


def training_charts(run_dir: str, key: str) -> None:
    records = cached.metrics(run_dir)
    df = charts.step_frame(records)
    if df.empty:
        st.caption("Loss curves appear after the first logged steps.")
        return
    ends = [r["step"] for r in records if r.get("kind") == "epoch"]
    st.plotly_chart(charts.loss_figure(df, ends), key=f"{key}_losses", config={"displaylogo": False})
