"""Runs: every training run with its key settings and scores, curves of several runs on one chart, and
renaming and deleting (never the run that is training)."""

import pandas as pd
import streamlit as st

from dashboard import cached, charts, settings
from dashboard.job_panel import live_run_dirs
from dashboard.page import page_header
from dashboard.pickers import run_picker
from dashboard.store import bind, recall, remember
from facegan.errors import FaceganError
from facegan.metrics.registry import HEADLINE_DECIMALS
from facegan.runs import best_scores, delete_run, rename_run, run_state
from facegan.training.run_dir import RunDir

root = settings.runs_root()
page_header("Runs", f"Every training run in `{root}`, side by side.", "pages/runs.py")

runs = cached.runs(root)
if not runs:
    st.info("No runs yet. Each training run gets its own folder here.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()


live = {RunDir(p).path.resolve() for p in live_run_dirs()}


def state(r) -> str:
    return run_state(r, live)


rows = []
for r in runs:
    best, how = best_scores(r.path, cached.metrics(r.path))
    rows.append({"run": r.name, "state": state(r), "preset": r.preset,
                 "size": f"{r.resolution} px" if r.resolution else "",
                 "epochs": f"{r.epochs_done} / {r.epochs}" if r.epochs else "", "steps": r.step,
                 "faces": r.images, "created": (r.created or "").replace("T", " ")[:16],
                 **{charts.METRIC_SHORT.get(k, k): v for k, v in best.items()},
                 **({"scored with": how} if how else {}), "data": r.source})
table = pd.DataFrame(rows)
scores_shown = {label: key for key, label in charts.METRIC_SHORT.items() if label in table.columns}
st.dataframe(table, hide_index=True, width="stretch", key="runs_table",
             column_config={"steps": st.column_config.NumberColumn(format="localized"),
                            "faces": st.column_config.NumberColumn(format="localized"),
                            **{c: st.column_config.NumberColumn(f"best {c}", format=f"%.{HEADLINE_DECIMALS[k]}f")
                               for c, k in scores_shown.items()}})
if scores_shown:
    st.caption("Best scores over each run's measurements on the Evaluate page (made with the same feature "
               "network and number of faces as its newest one).")

# -- comparing runs ------------------------------------------------------------------------------------

st.subheader("Compare runs", anchor=False)
trained = [r for r in runs if r.step]
if not trained:
    st.caption("Runs appear here once they have logged a few training steps.")
else:
    names = [r.name for r in trained]
    picked = recall("runs_compare")
    if not isinstance(picked, list) or not set(picked) <= set(names):
        picked = names[:3]
    remember("runs_compare", picked)
    c1, c2, c3 = st.columns([3, 2, 1])
    with c1:
        chosen = st.multiselect("Runs", names, key="runs_compare", **bind("runs_compare", "runs_compare"))
    frames = {n: charts.step_frame(cached.metrics(r.path)) for n in chosen for r in trained if r.name == n}
    columns = [c for c in charts.SERIES if any(c in f for f in frames.values())]
    with c2:
        column = st.selectbox("Curve", columns or ["loss_g"], key="runs_curve",
                              format_func=lambda c: charts.SERIES.get(c, c))
    with c3:
        x = st.radio("Along", ["step", "epoch"], key="runs_x", horizontal=True)
    if chosen:
        st.plotly_chart(charts.runs_figure(frames, column, x), key="runs_chart", config={"displaylogo": False})
        grids = [(n, RunDir(r.path).samples()) for n in chosen[:4] for r in trained if r.name == n]
        st.markdown("**The newest faces of each run**")
        cols = st.columns(4)
        for col, (n, samples) in zip(cols, grids):
            with col:
                if samples:
                    e, p = samples[-1]
                    st.image(str(p), caption=f"{n} · epoch {e}", width="stretch")

# -- renaming and deleting -------------------------------------------------------------------------------

def do_rename(old: str) -> None:
    try:
        new = rename_run(root, old, st.session_state.get("runs_new_name", ""), busy=live_run_dirs())
    except FaceganError as e:
        st.session_state["runs_msg"] = ("error", str(e))
    else:
        remember("runs_manage", new.name)
        st.session_state["runs_new_name"] = ""
        st.session_state["runs_msg"] = ("success", f"Renamed {old} to {new.name}.")


def ask_delete(name: str | None) -> None:
    st.session_state["runs_pending_delete"] = name


def do_delete(name: str) -> None:
    st.session_state["runs_pending_delete"] = None
    try:
        delete_run(root, name, busy=live_run_dirs())
    except FaceganError as e:
        st.session_state["runs_msg"] = ("error", str(e))
    else:
        st.session_state["runs_msg"] = ("success", f"Deleted {name}.")


st.subheader("Rename or delete", anchor=False)
target = run_picker("Run", "runs_manage", runs)
is_live = state(target) == "training now"
if is_live:
    st.caption("This run is training right now: stop it on the Train page before renaming or deleting it.")
msg = st.session_state.pop("runs_msg", None)
if msg:
    (st.error if msg[0] == "error" else st.success)(msg[1])
c1, c2 = st.columns(2)
with c1:
    new_name = st.text_input("New name", key="runs_new_name", placeholder=target.name,
                             help="A plain folder name: letters, digits, spaces, dots, dashes, underscores.")
    st.button("Rename", icon=":material/edit:", disabled=is_live or not new_name.strip(), key="runs_rename",
              on_click=do_rename, args=(target.name,))
with c2:
    if st.session_state.get("runs_pending_delete") != target.name:
        st.button("Delete…", icon=":material/delete:", disabled=is_live, key="runs_delete",
                  on_click=ask_delete, args=(target.name,))
    else:
        st.warning(f"Delete **{target.name}** and everything in it (checkpoints, images, logs)? "
                   "This cannot be undone.", icon=":material/warning:")
        d1, d2 = st.columns(2)
        d1.button("Yes, delete it", type="primary", key="runs_delete_yes", icon=":material/delete_forever:",
                  on_click=do_delete, args=(target.name,))
        d2.button("Cancel", key="runs_delete_no", on_click=ask_delete, args=(None,))
