"""Runs: every training run with its key settings and scores, curves of several runs on one chart, and
renaming and deleting (never the run that is training)."""

import pandas as pd
import streamlit as st

from dashboard import cached, charts, settings
from dashboard import widgets as w
from facegan.errors import FaceganError
from facegan.runs import best_metrics, delete_run, evaluations, metric_history, rename_run, run_state
from facegan.training.run_dir import RunDir

root = settings.runs_root()
w.page_header("Runs", f"Every training run in `{root}`, side by side.", "pages/runs.py")

runs = cached.runs(root)
if not runs:
    st.info("No runs yet. Each training run gets its own folder here.", icon=":material/info:")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()


def metric_directions() -> dict[str, str]:
    """Whether lower or higher is better, per registered quality metric (empty if they cannot load)."""
    try:
        from facegan.metrics import registry
        return {n: m.better for n, m in registry.METRICS.items()}
    except ImportError:
        return {}


better = metric_directions()
live = {RunDir(p).path.resolve() for p in w.live_run_dirs()}


def state(r) -> str:
    return run_state(r, live)


def scores(r) -> tuple[dict[str, float], str]:
    """The best score of each metric over the run's measurements made like its newest one (same feature
    network and count: others are not comparable), and how they were made."""
    evals = evaluations(r.path)
    if evals:
        newest = evals[-1]
        same = [e for e in evals if e["features"] == newest["features"] and e["n"] == newest["n"]]
        return best_metrics(same, better), f"{newest['features']}, {newest['n']:,} faces"
    history = metric_history(cached.metrics(r.path))
    return (best_metrics(history, better), "during training") if history else ({}, "")


SCORE_FORMAT = {"FID": "%.1f", "KID": "%.4f"}
rows = []
for r in runs:
    best, how = scores(r)
    rows.append({"run": r.name, "state": state(r), "preset": r.preset,
                 "size": f"{r.resolution} px" if r.resolution else "",
                 "epochs": f"{r.epochs_done} / {r.epochs}" if r.epochs else "", "steps": r.step,
                 "faces": r.images, "created": (r.created or "").replace("T", " ")[:16],
                 **{charts.METRIC_SHORT.get(k, k): v for k, v in best.items()},
                 **({"scored with": how} if how else {}), "data": r.source})
table = pd.DataFrame(rows)
scores_shown = [c for c in table.columns if c in charts.METRIC_SHORT.values()]
st.dataframe(table, hide_index=True, width="stretch", key="runs_table",
             column_config={"steps": st.column_config.NumberColumn(format="localized"),
                            "faces": st.column_config.NumberColumn(format="localized"),
                            **{c: st.column_config.NumberColumn(f"best {c}", format=SCORE_FORMAT.get(c, "%.3f"))
                               for c in scores_shown}})
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
    picked = w.recall("runs_compare")
    if not isinstance(picked, list) or not set(picked) <= set(names):
        picked = names[:3]
    w.remember("runs_compare", picked)
    c1, c2, c3 = st.columns([3, 2, 1])
    with c1:
        chosen = st.multiselect("Runs", names, key="runs_compare", **w.bind("runs_compare", "ui.runs_compare"))
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
        new = rename_run(root, old, st.session_state.get("runs_new_name", ""), busy=w.live_run_dirs())
    except FaceganError as e:
        st.session_state["runs_msg"] = ("error", str(e))
    else:
        w.remember("runs_manage", new.name)
        st.session_state["runs_new_name"] = ""
        st.session_state["runs_msg"] = ("success", f"Renamed {old} to {new.name}.")


def ask_delete(name: str | None) -> None:
    st.session_state["runs_pending_delete"] = name


def do_delete(name: str) -> None:
    st.session_state["runs_pending_delete"] = None
    try:
        delete_run(root, name, busy=w.live_run_dirs())
    except FaceganError as e:
        st.session_state["runs_msg"] = ("error", str(e))
    else:
        st.session_state["runs_msg"] = ("success", f"Deleted {name}.")


st.subheader("Rename or delete", anchor=False)
target = w.run_picker("Run", "runs_manage", runs)
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
