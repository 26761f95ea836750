"""facegan dashboard. Run with ``streamlit run app.py``.

This file is the entry point and the Home page; the other pages are in ``pages/``, the pieces they
share in ``dashboard/``, and everything they compute comes from the ``facegan`` package.
"""

import random

import streamlit as st

from dashboard import cached
from dashboard.job_panel import job_progress, state_badge
from dashboard.page import NAV_FLAG, WANTED_PAGE
from dashboard.store import apply_preset, remember
from facegan import job
from facegan.images import grid, png_bytes
from facegan.presets import FIRST_RUN_PRESET

st.set_page_config(page_title="facegan", page_icon="🙂", layout="wide", initial_sidebar_state="collapsed")

DATA = "pages/data.py"
TRAIN = "pages/train.py"
EXPLORE = "pages/explore.py"
EVALUATE = "pages/evaluate.py"
RUNS = "pages/runs.py"


def current_job() -> None:
    """The training job at a glance; refreshes itself while it runs."""
    s = job.status()
    seen = (s.job_id, s.live)
    if st.session_state.get("home_seen", seen) != seen:
        st.session_state["home_seen"] = seen
        st.rerun()
    st.session_state["home_seen"] = seen
    with st.container(border=True):
        st.subheader("Training now" if s.live or s.state == "idle" else "Latest training", anchor=False)
        if s.state == "idle":
            st.caption("Nothing is training yet. Start on the Train page; training carries on in the "
                       "background while you look around.")
            st.page_link(TRAIN, label="Go to Train", icon=":material/model_training:")
            return
        state_badge(s)
        where = f"run `{s.run_dir.rstrip('/').rsplit('/', 1)[-1]}`" if s.run_dir else f"a new '{s.preset}' run"
        st.caption(where + (f" · {s.images:,} faces" if s.images else "") + (f" · {s.device}" if s.device else ""))
        job_progress(s)
        if s.error:
            st.error(s.error.partition("\n")[0], icon=":material/error:")
        if s.latest_grid:
            st.image(s.latest_grid, caption=f"Latest faces (epoch {s.epoch})", width=360)
        if s.live:
            st.page_link(TRAIN, label="Watch it on the Train page", icon=":material/monitoring:")
        else:
            st.page_link(TRAIN, label="Its curves on the Train page", icon=":material/monitoring:")
            st.page_link(EXPLORE, label="Its faces on the Explore page", icon=":material/face:")


def demo_faces() -> None:
    """A strip of faces from the demo generator the repository ships, with a button for new ones; one
    line instead when its file is missing or damaged (the rest of Home still works)."""
    demo, problem = cached.demo_run()
    with st.container(border=True):
        st.subheader("Faces invented by the demo network", anchor=False)
        if demo is None:
            st.caption(problem)
            return
        seed = st.session_state.setdefault("home_demo_seed", 0)
        faces = cached.faces_for(demo.path, "demo", 8, int(seed))
        st.image(png_bytes(grid(faces, ncols=8), scale=2), width="stretch",
                 caption="None of these people exist. A network trained on CelebA photos (for non-commercial "
                         "research only) drew them from random numbers.")
        c1, c2 = st.columns([1, 2], vertical_alignment="center")
        c1.button("New faces", icon=":material/casino:", key="home_demo_new",
                  on_click=lambda: st.session_state.update(home_demo_seed=random.randrange(1, 2**31 - 1)))
        c2.page_link(EXPLORE, label="Morph them and draw more on Explore", icon=":material/face:")


def home() -> None:
    st.title("facegan", anchor=False)
    st.markdown(
        "**facegan teaches a neural network to invent faces that never existed.** "
        "Give it a collection of face photos (or use the built-in ones), press Train, and watch the "
        "invented faces get better epoch by epoch — then explore, measure and share them."
    )
    left, right = st.columns([3, 2], gap="large")
    with left:
        demo_faces()
        with st.container(border=True):
            st.subheader("Start here", anchor=False)
            st.caption("New here? Train a network on the built-in faces and watch it learn; the progress bar "
                       "says how long it will take on this computer.")
            if st.button("Train on built-in faces", icon=":material/play_circle:", type="primary",
                         key="home_train", help="No download needed: facegan draws its own practice faces. "
                                                "About 4 to 8 minutes on a 2-core computer, less with a GPU."):
                apply_preset(FIRST_RUN_PRESET)
                remember("data_kind", "synthetic")
                st.switch_page(TRAIN)
            c1, c2, c3 = st.columns(3)
            c1.page_link(DATA, label="Use your own photos", icon=":material/photo_library:")
            c2.page_link(EXPLORE, label="Explore a finished run", icon=":material/face:")
            c3.page_link(RUNS, label="Compare runs", icon=":material/stacked_line_chart:")
        st.subheader("The built-in practice faces", anchor=False)
        st.caption("Drawn by facegan itself, so everything works with no download. Each seed draws new faces.")
        seed = st.columns([1, 2])[0].number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1,
                                                  key="home_seed")
        st.image(grid(cached.builtin_faces(32, 64, int(seed)), ncols=8), caption="32 built-in faces at 64 px",
                 width=560)
    with right:
        live = job.status().live
        st.fragment(run_every=2.0 if live else 5.0)(current_job)()
        with st.container(border=True):
            st.subheader("How it works", anchor=False)
            st.markdown(
                "1. **Data** — choose the faces to learn from.\n"
                "2. **Train** — two networks compete: one invents faces, the other spots fakes.\n"
                "3. **Explore** — draw new faces and morph one face into another.\n"
                "4. **Evaluate** — numbers that say how close the invented faces are to real ones.\n"
                "5. **Runs** — every training run, side by side."
            )


PAGES = [
    st.Page(home, title="Home", icon=":material/home:", default=True),
    st.Page(DATA, title="Data", icon=":material/photo_library:"),
    st.Page(TRAIN, title="Train", icon=":material/model_training:"),
    st.Page(EXPLORE, title="Explore", icon=":material/face:"),
    st.Page(EVALUATE, title="Evaluate", icon=":material/insights:"),
    st.Page(RUNS, title="Runs", icon=":material/folder_open:"),
]

st.session_state[NAV_FLAG] = True
page = st.navigation(PAGES, position="top")
if wanted := st.session_state.pop(WANTED_PAGE, None):  # see dashboard.page.page_header
    st.switch_page(wanted)
page.run()
