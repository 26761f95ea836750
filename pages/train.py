"""Train: every setting as a form, the networks it builds, and the one background training job, watched
live (it keeps running while you switch pages, reload, or watch from another tab)."""

import pandas as pd
import streamlit as st

from dashboard import cached, job_panel, settings
from dashboard.config_form import config_form
from dashboard.forms import SECTION_TITLES, collect
from dashboard.page import page_header
from dashboard.pickers import run_picker
from dashboard.store import apply_preset, bind, remember, values
from facegan import job
from facegan.errors import FaceganError
from facegan.launcher import check_processes
from facegan.presets import PRESETS
from facegan.runs import check_run_name, run_path
from facegan.training.run_dir import RunDir

# Every refresh costs the browser CPU, on a laptop the same CPU as the training (measured by
# benchmarks/dashboard_overhead.py: at 1.5 s and 5 s the watched run was 0.89x the headless one, nearly all
# of it Chromium's time). The progress line moves enough in 2.5 s; the curves and the grid, costlier to
# draw, change little in 10 s (an epoch of a first run takes 3-20 s).
REFRESH_S = 2.5  # the progress line
CHARTS_S = 10.0

page_header("Train", "Pick a preset, adjust anything you like, press Start. Training runs in the "
                       "background: switch pages or close the tab, it carries on.", "pages/train.py")


# -- the job, live ------------------------------------------------------------------------------------

def live_panel() -> None:
    s = job.status()
    seen = (s.job_id, s.live)
    if st.session_state.get("train_seen", seen) != seen:  # started, or ended: the whole page changes
        st.session_state["train_seen"] = seen
        st.rerun()
    st.session_state["train_seen"] = seen
    if s.state == "idle":
        return
    top = st.columns([3, 2])
    with top[0]:
        st.subheader("Training" if s.live else "Last training", anchor=False)
        name = s.run_dir.rstrip("/").rsplit("/", 1)[-1] if s.run_dir else None
        st.caption(" · ".join(b for b in [f"run `{name}`" if name else f"new '{s.preset}' run",
                                           f"{s.images:,} faces" if s.images else None, s.device] if b))
    with top[1]:
        job_panel.state_badge(s)
    job_panel.job_progress(s)
    job_panel.job_controls(s, key="train")
    job_panel.job_messages(s)
    if s.state == "finished" and s.run_dir:
        st.success("Done. The faces are ready to explore and share.", icon=":material/celebration:")
        if st.button("See the faces", icon=":material/face:", key="train_to_explore"):
            remember("explore_run", s.run_dir.rstrip("/").rsplit("/", 1)[-1])
            st.switch_page("pages/explore.py")


def live_charts() -> None:
    s = job.status()
    if s.state == "idle" or not s.run_dir:
        return
    c1, c2 = st.columns([3, 2], gap="large")
    with c1:
        job_panel.training_charts(s.run_dir, key="train")
    with c2:
        job_panel.epoch_grid(s.run_dir, key="train_grid_epoch", width=440, live=s.live)


status = job.status()
with st.container(border=status.state != "idle"):
    st.fragment(run_every=REFRESH_S if status.live else 5.0)(live_panel)()
    # A start or an end reruns the whole page (live_panel), so when not live the charts need no timer.
    st.fragment(run_every=CHARTS_S if status.live else None)(live_charts)()
busy = status.live


# -- a new run -----------------------------------------------------------------------------------------

store = values()
st.subheader("New run", anchor=False)
c1, c2 = st.columns([1, 2])
with c1:
    names = list(PRESETS)
    bind("train_preset", "preset", names[0], names, setting=True)
    preset = st.selectbox("Preset", names, key="train_preset",
                          on_change=lambda: apply_preset(st.session_state["train_preset"]),
                          help="A starting point for every setting. Changing it resets all settings except "
                               "the data source.")
    store["preset"] = preset
with c2:
    st.caption(PRESETS[preset].summary)
    src = store.get("data.source") or "?"
    chosen = " (only the faces chosen on the Data page's *Look closer*)" if store.get("data.subset") else ""
    st.caption(f"Faces: **{'built-in' if src == 'synthetic' else src}**{chosen} at {store.get('data.resolution')} "
               "px (change them on the Data page or in the Data tab below).")

cfg, errors = collect(store)
config_form(errors)
cfg, errors = collect(store)  # as now shown

for key, msg in errors.items():  # also listed here: the field may be on a tab not open now
    tab = SECTION_TITLES.get(key.partition(".")[0])
    st.error(msg + (f"  (on the {tab} tab)" if tab else ""), icon=":material/error:")

with st.expander("Networks: layers, shapes and parameters", icon=":material/account_tree:"):
    if cfg is None:
        st.caption("Fix the settings above to see the networks.")
    else:
        try:
            arch = cached.architecture_of(cfg)
        except FaceganError as e:
            st.error(str(e))
        else:
            cols = st.columns(2)
            for col, net in zip(cols, ("generator", "discriminator")):
                a = arch[net]
                with col:
                    st.markdown(f"**{net.capitalize()}** · input {' × '.join(map(str, a['input_shape']))} · "
                                f"{a['params']:,} parameters")
                    df = pd.DataFrame([{"layer": layer["name"], "type": layer["type"],
                                        "output shape": " × ".join(map(str, layer["output_shape"] or [])),
                                        "parameters": layer["params"]} for layer in a["layers"]])
                    st.dataframe(df, hide_index=True, width="stretch", key=f"arch_{net}")

c1, c2, _ = st.columns([2, 1, 2])
with c1:
    run_name = st.text_input("Run name (optional)", key="train_run_name",
                             placeholder="automatic: date-time-preset",
                             help="The folder the run is saved in, inside the runs folder.").strip()
with c2:
    processes = job_panel.processes_input("train_gpus")
start_error = None
if processes > 1 and cfg is not None:
    try:
        check_processes(cfg, processes)
    except FaceganError as e:
        start_error = str(e)
        st.error(start_error, icon=":material/error:")
if run_name and cfg is not None and not start_error:
    try:
        target = run_path(cfg.run.runs_root, check_run_name(run_name))
        if target.exists():
            start_error = f"A run named {run_name!r} already exists; choose another name."
    except FaceganError as e:
        start_error = str(e)
    if start_error:
        st.error(start_error, icon=":material/error:")


def start_training() -> None:
    """on_click of Start: start the job with the settings as shown, then clear the run name."""
    cfg, _ = collect(values())
    if cfg is None:
        return
    name = st.session_state.get("train_run_name", "").strip()
    try:
        if name:
            cfg = cfg.with_overrides({"run.run_dir": str(run_path(cfg.run.runs_root, name))})
        job.start(cfg, processes=int(st.session_state.get("train_gpus", 1)))
    except FaceganError as e:
        st.session_state["train_msg"] = str(e)
    else:
        st.session_state["train_run_name"] = ""


st.button("Start training", type="primary", icon=":material/play_arrow:", key="train_start",
          disabled=busy or cfg is None or bool(start_error), on_click=start_training,
          help="Another run is training; stop it first." if busy else None)
if msg := st.session_state.pop("train_msg", None):
    st.error(msg, icon=":material/error:")

# -- continue a previous run -----------------------------------------------------------------------------

with st.expander("Continue a previous run", icon=":material/replay:"):
    runs = [r for r in cached.runs(settings.runs_root()) if "last" in r.checkpoints]
    if not runs:
        st.caption("No run with a checkpoint yet.")
    else:
        r = run_picker("Run", "train_resume_run", runs,
                         help="A run continues exactly where its last checkpoint left it, with its own settings.")
        default = r.epochs if r.epochs_done < (r.epochs or 0) else r.epochs_done + 5
        c1, c2, _ = st.columns([2, 1, 2])
        with c1:
            epochs = st.number_input("Train until epoch", min_value=max(1, r.epochs_done), max_value=1_000_000,
                                     value=max(default, r.epochs_done + 1), step=1,
                                     key=f"train_resume_epochs.{r.name}")
        with c2:
            resume_processes = job_panel.processes_input("train_resume_gpus")
        if st.button("Resume", icon=":material/play_arrow:", disabled=busy, key="train_continue"):
            try:
                base = RunDir.open(r.path).config()
                job.start(base.with_overrides({"run.epochs": int(epochs)}), resume=r.path,
                          processes=resume_processes)
            except FaceganError as e:
                st.error(str(e), icon=":material/error:")
            else:
                st.rerun()
