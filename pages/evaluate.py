"""Evaluate: how close a run's invented faces are to the real ones — FID, KID, 1-NN and precision/recall
with plain explanations, a map of real against generated faces, the nearest real face of each
generated one, and the numbers over the epochs."""

import pandas as pd
import streamlit as st

from dashboard import cached, charts
from dashboard.page import page_header, run_with_progress
from dashboard.pickers import checkpoint_label, pick_trained_run
from facegan.demo import celeba_data, is_demo
from facegan.errors import FaceganError
from facegan.images import beside, grid, png_bytes
from facegan.metrics.human import fooled_rate, read_log
from facegan.runs import comparable, evaluations, metric_history

page_header("Evaluate", "How close are the invented faces to real ones? Measure it, read what each number "
                          "means, and check it by eye.", "pages/evaluate.py")
try:
    from facegan.metrics import registry
    from facegan.metrics.evaluate import evaluate_run
except ImportError as e:
    st.error(f"The quality metrics cannot be loaded here ({e}); reinstall the requirements.", icon=":material/error:")
    st.stop()
METRICS = registry.METRICS
FEATURES = {"lite0": "Fast (EfficientNet-Lite0) — for comparing your own runs",
            "inception": "Standard (Inception) — comparable with published FIDs; slow on a CPU"}
COUNTS = [64, 128, 256, 500, 1000, 2000, 5000, 10000]

run, which = pick_trained_run("eval", "No trained run yet. Train one first, then measure it here.")
data_cfg = None  # a run is measured against its own data
if is_demo(run):  # the demo is measured against CelebA, where this machine has it
    data_cfg = celeba_data(run.resolution or 64)
    if data_cfg is None:
        st.info("The demo generator learned from CelebA. To measure it, point FACEGAN_CELEBA_ZIP at a CelebA "
                "zip or img_align_celeba folder and restart the dashboard.", icon=":material/info:")

with st.container(border=True):
    st.markdown("**Measure**")
    c1, c2, c3 = st.columns([3, 2, 3])
    with c1:
        names = st.pills("Numbers", list(METRICS), default=list(METRICS), key="eval_metrics",
                         selection_mode="multi", format_func=lambda n: METRICS[n].short,
                         help="\n\n".join(f"**{m.short}**: {m.title}" for m in METRICS.values()))
    with c2:
        n = st.select_slider("Faces per side", COUNTS, value=500, key="eval_n",
                             help="How many generated and real faces are compared. More is more exact and "
                                  "slower; compare only numbers measured with the same count.")
    with c3:
        features = st.radio("Feature network", list(FEATURES), key="eval_features", format_func=FEATURES.get,
                            help="The network that turns each face into numbers before comparing. Numbers "
                                 "from different networks cannot be compared.")
    go = st.button("Measure", type="primary", icon=":material/speed:", key="eval_go",
                   disabled=not names or (is_demo(run) and data_cfg is None))
    if go:
        try:
            rec = run_with_progress(
                lambda progress: evaluate_run(run.path, data_cfg, n=int(n), metrics=names, features=features,
                                              checkpoint=which, progress=progress),
                "Measuring")
        except FaceganError as e:
            st.error(str(e), icon=":material/error:")
        else:
            st.session_state[f"eval_pick.{run.name}"] = rec["files"]["json"]

people = fooled_rate(read_log(run.path))
if people:
    with st.container(border=True):
        c1, c2 = st.columns([1, 3], vertical_alignment="center")
        c1.metric("People fooled", f"{people['rate']:.0%}",
                  help="Real or fake? (Explore): the share of rounds where a person took the invented face for "
                       "the real one. 50% means people cannot tell them apart; 0% means every fake was spotted.")
        c2.caption(f"{people['fooled']} of {people['rounds']} rounds in {people['games']} game"
                   f"{'s' if people['games'] != 1 else ''}; 95% interval {people['low']:.0%} to {people['high']:.0%} "
                   "(few rounds leave it wide). A human two-choice test, as in HYPE (Zhou et al. 2019): it "
                   "measures what the numbers below try to, with people's eyes.")

evals = evaluations(run.path)
if not evals:
    st.info("No measurements of this run yet: press **Measure**. With the fast network and 500 faces it takes "
            "less than a minute on a CPU.", icon=":material/info:")
    st.stop()


def eval_label(e: dict) -> str:
    return (f"epoch {e['epoch']} · {checkpoint_label(e['checkpoint'] or '?')} checkpoint · {e['features']} · "
            f"{e['n']:,} faces · {e['created'].replace('T', ' ')[:16]}")


files = [e["file"] for e in evals][::-1]
by_file = {e["file"]: e for e in evals}
pick_key = f"eval_pick.{run.name}"
if st.session_state.get(pick_key) not in files:
    st.session_state[pick_key] = files[0]
shown = by_file[st.selectbox("Measurement", files, key=pick_key, format_func=lambda f: eval_label(by_file[f]))]
rec = shown["record"]

# -- the numbers, explained ------------------------------------------------------------------------------

results = rec.get("metrics", {})
cols = st.columns(max(1, len(results)))
for col, (name, result) in zip(cols, results.items()):
    m = METRICS.get(name)
    with col, st.container(border=True):
        st.markdown(f"**{m.title if m else name}**")
        keys = [k for k in charts.METRIC_SHORT if k in result] or [k for k, v in result.items()
                                                                  if isinstance(v, (int, float))][:1]
        for k in keys:
            st.metric(charts.METRIC_SHORT.get(k, k), registry.shown(k, result[k]))
        if m:
            st.badge(f"{m.better} is better", color="blue", icon=":material/thumbs_up_down:")
            st.caption(m.explain)
st.caption(f"{rec.get('n_fake', '?'):,} generated and {rec.get('n_real', '?'):,} real faces · "
           f"{rec.get('features')} features · checkpoint from epoch {shown['epoch']} · "
           f"measured in {rec.get('seconds', {}).get('total', 0):.0f} s on {rec.get('device', '?')}")
if rec.get("warnings"):
    with st.expander(f"Notes on these numbers ({len(rec['warnings'])})", icon=":material/info:"):
        for note in rec["warnings"]:
            st.caption(note)

# -- pictures -----------------------------------------------------------------------------------------------

tab_map, tab_nn, tab_hist = st.tabs(["Map of the faces", "Nearest real faces", "Over the epochs"])
res = run.resolution or 64
scale = max(1, 64 // res)
seed = rec.get("seed", 0)
data_key = (rec.get("data") or {}).get("key")
ckpt = (rec.get("checkpoint") or {}).get("name") or which

with tab_map:
    path = rec.get("files", {}).get("tsne")
    if not path:
        st.caption("This measurement has no map.")
    else:
        table = pd.read_csv(path)
        st.caption("Every dot is a face, placed so that similar faces are close (t-SNE). Where orange "
                   "(generated) and blue (real) mix, the network makes faces like the real ones; islands of "
                   "one colour are what it misses or invents. **Click a dot, or drag a box, to see the faces.**")
        c1, c2 = st.columns([3, 2], gap="large")
        with c1:
            event = st.plotly_chart(charts.tsne_figure(table), key=f"tsne.{shown['file']}", on_select="rerun",
                                    selection_mode=("points", "box", "lasso"), config={"displaylogo": False})
        with c2:
            pts = list(getattr(getattr(event, "selection", None), "points", None) or [])
            real_idx, fake_idx = charts.tsne_selection(table, pts, limit=24)
            if not pts:
                st.info("Select dots on the map to see their faces here.", icon=":material/touch_app:")
            elif len(pts) > 24:
                st.caption(f"{len(pts)} dots selected; the first 24 are shown.")
            try:
                if real_idx:
                    imgs = cached.real_images(run.path, real_idx, data_key, data_cfg)
                    if imgs is None:
                        st.caption("The run's data set changed since this measurement.")
                    else:
                        st.image(png_bytes(grid(imgs, ncols=6), scale=scale), caption="real faces", width="stretch")
                if fake_idx:
                    imgs = cached.generated_images(run.path, ckpt, rec["n_fake"], seed, fake_idx,
                                                  rec.get("truncation", 1.0))
                    st.image(png_bytes(grid(imgs, ncols=6), scale=scale), caption="generated faces",
                             width="stretch")
            except FaceganError as e:
                st.caption(f"Cannot show these faces: {e}")

with tab_nn:
    path = rec.get("files", {}).get("neighbours")
    if not path:
        st.caption("This measurement has no nearest-face list.")
    else:
        pairs = pd.read_csv(path)
        rows = st.columns([1, 2])[0].slider("Generated faces to check", 2, 16, 6, key="eval_nn_rows")
        st.caption("Left: a generated face. Right: the real faces most similar to it, nearest first. If a "
                   "generated face is a near copy of a real one, the network memorised instead of learning.")
        fakes = sorted(pairs["fake_index"].unique())[:rows]
        sub = pairs[pairs["fake_index"].isin(fakes)].sort_values(["fake_index", "rank"])
        k = int(sub["rank"].max())
        try:
            gen = cached.generated_images(run.path, ckpt, rec["n_fake"], seed, fakes, rec.get("truncation", 1.0))
            real = cached.real_images(run.path, sub["real_index"].to_numpy(), data_key, data_cfg)
        except FaceganError as e:
            st.caption(f"Cannot show these faces: {e}")
        else:
            if real is None:
                st.caption("The run's data set changed since this measurement.")
            else:
                st.image(png_bytes(grid(beside(gen, real), ncols=k + 1), scale=scale), width=min(700, 120 * (k + 1)),
                         caption=f"Each row: generated face, then its {k} nearest real faces")
                with st.expander("Distances"):
                    st.dataframe(sub.rename(columns={"fake_index": "generated face", "rank": "rank",
                                                     "real_index": "real face", "distance": "distance"}),
                                 hide_index=True)

with tab_hist:
    history = [{k: v for k, v in e.items() if k != "record"} for e in comparable(evals, shown)]
    history += metric_history(cached.metrics(run.path))
    keys = [k for k in charts.METRIC_SHORT if any(k in h for h in history)]
    if len({h.get("epoch") for h in history}) < 2:
        st.caption(f"Measure this run at two or more checkpoints (with {shown['features']} features and "
                   f"{shown['n']:,} faces) to see how the numbers changed as it trained.")
    if history:
        st.plotly_chart(charts.metric_history_figure(history, keys, charts.METRIC_SHORT), key="eval_history",
                        config={"displaylogo": False})
