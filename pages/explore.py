"""Explore: faces from a trained run — new ones at the press of a button, smooth morphs between them,
the training GIF, and files to share."""

import random
import tempfile
from pathlib import Path

import streamlit as st

from dashboard import cached
from dashboard.page import page_header
from dashboard.pickers import pick_trained_run
from facegan.errors import FaceganError
from facegan.export import export_generator
from facegan.images import grid, png_bytes

page_header("Explore", "Draw new faces from a trained network, morph one face into another, and download "
                         "them to share.", "pages/explore.py")

run, which = pick_trained_run("explore", "No trained run yet. Train one first on the Train page "
                                "(the built-in faces need no download).")

try:
    G, cfg, info = cached.generator(run.path, which)
except FaceganError as e:
    st.error(str(e), icon=":material/error:")
    st.stop()

res = cfg.data.resolution
st.caption(f"{run.preset} · {res} px · checkpoint from epoch {info['epoch']} (step {info['step']:,})"
           + (" · smoothed (EMA) weights" if info["ema"] else "") + f" · trained on {run.source or 'faces'}")
scale = max(1, 96 // res)  # small faces are shown larger, pixels kept sharp


def new_seed() -> None:
    st.session_state["explore_seed"] = random.randrange(0, 2**31 - 1)


truncation = st.slider("Variety", 0.1, 1.0, 1.0, 0.05, key="explore_truncation",
                       help="Lower: faces closer to the network's average face, fewer odd ones, less variety "
                            "(the truncation trick, PSI). 1: the full variety the network learned.")

tab_faces, tab_walk, tab_gif, tab_files = st.tabs(["New faces", "Morphs", "Training GIF", "Downloads"])

with tab_faces:
    c1, c2, c3 = st.columns([1, 1, 2], vertical_alignment="bottom")
    with c1:
        n = st.selectbox("How many", [16, 36, 64], index=1, key="explore_n")
    with c2:
        if "explore_seed" not in st.session_state:
            st.session_state["explore_seed"] = 0
        seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="explore_seed",
                               help="The same seed always draws the same faces from this checkpoint.")
    with c3:
        st.button("New faces", icon=":material/casino:", on_click=new_seed, type="primary", key="explore_new")
    faces = cached.faces_for(run.path, which, int(n), int(seed), float(truncation))
    faces_png = png_bytes(grid(faces), scale=scale)
    c1, c2 = st.columns([3, 2], gap="large")
    with c1:
        st.image(faces_png, caption=f"{n} invented faces (seed {seed})", width="stretch")
    with c2:
        st.markdown("**None of these people exist.** Each face is drawn from a different list of random "
                    "numbers; the seed picks the lists, so the same seed brings the same faces back.")
        st.caption("Blurry or alike faces mean the network needs more training (or more varied photos).")
        st.download_button("Download these faces", faces_png, file_name=f"{run.name}-faces-seed{seed}.png",
                           mime="image/png", icon=":material/download:", on_click="ignore", key="dl_faces_here")

with tab_walk:
    st.caption("Every face comes from a list of random numbers. Walking smoothly from one list to another "
               "morphs one face into another — a sign that the network learned faces, not copies.")
    c1, c2, c3, c4, c5 = st.columns([2, 2, 2, 3, 2])
    with c1:
        mode = st.radio("Kind", ["1d", "2d"], key="explore_mode", horizontal=True,
                        format_func={"1d": "Rows", "2d": "Grid"}.get,
                        help="Rows: each row morphs one face into another. Grid: four corner faces blend "
                             "across a square.")
    with c2:
        steps = st.slider("Steps", 3, 16, 8, key="explore_steps")
    with c3:
        rows = st.slider("Rows", 1, 8, 4, key="explore_rows", disabled=mode == "2d")
    with c4:
        path = st.radio("Path", ["slerp", "lerp"], key="explore_path", horizontal=True,
                        format_func={"slerp": "Curved (slerp)", "lerp": "Straight (lerp)"}.get,
                        help="Curved paths stay where the network's inputs usually are, so the middle faces "
                             "look as natural as the ends.")
    with c5:
        walk_seed = st.number_input("Seed of the end faces", min_value=0, max_value=2**31 - 1, value=1, step=1,
                                    key="explore_walk_seed")
    imgs = cached.walk_for(run.path, which, mode, int(steps), int(rows), int(walk_seed), path == "slerp",
                           float(truncation))
    walk_png = png_bytes(grid(imgs, ncols=int(steps)), scale=scale)
    st.image(walk_png, caption=("Each row: one face morphing into another" if mode == "1d"
                                else "Four corner faces blended across the grid"),
             width=min(1000, (res * scale + 2) * int(steps)))

with tab_gif:
    gif = cached.training_gif(run.path)
    if gif is None:
        st.caption("This run has no epoch grids yet.")
    else:
        st.image(gif, caption="The same faces after every epoch of training", width=560)

with tab_files:
    st.caption("Files to keep or share. The generator file holds only the face-making network and its "
               "settings (safetensors: it cannot run code when opened).")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        st.download_button("Faces (PNG)", faces_png, file_name=f"{run.name}-faces-seed{seed}.png",
                           mime="image/png", icon=":material/download:", on_click="ignore", key="dl_faces")
    with c2:
        st.download_button("Morphs (PNG)", walk_png, file_name=f"{run.name}-morph-{mode}.png", mime="image/png",
                           icon=":material/download:", on_click="ignore", key="dl_walk")
    with c3:
        st.download_button("Training GIF", gif or b"", file_name=f"{run.name}-training.gif", mime="image/gif",
                           icon=":material/download:", on_click="ignore", disabled=gif is None, key="dl_gif")
    with c4:
        def generator_file(run_path=run.path, which=which) -> bytes:
            with tempfile.TemporaryDirectory() as tmp:
                out = export_generator(run_path, Path(tmp) / "G.safetensors", which)
                return out.read_bytes()

        st.download_button("Generator (.safetensors)", generator_file, file_name=f"{run.name}-{which}.safetensors",
                           mime="application/octet-stream", icon=":material/download:", on_click="ignore",
                           key="dl_generator")
