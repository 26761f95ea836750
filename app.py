"""facegan dashboard — home page. Run with ``streamlit run app.py``."""

import numpy as np
import streamlit as st

from facegan.data.synthetic import render_face
from facegan.images import grid
from facegan.presets import PRESETS

st.set_page_config(page_title="facegan", page_icon="🙂", layout="wide")


@st.cache_data(show_spinner=False)
def builtin_faces(n: int, resolution: int, seed: int) -> np.ndarray:
    return grid(np.stack([render_face(i, resolution, seed) for i in range(n)]), ncols=8)


st.title("facegan")
st.markdown(
    "**facegan teaches a neural network (a DCGAN) to invent new faces from a collection of photos.** "
    "Pick a face collection, press train, watch the faces appear epoch by epoch, then explore, "
    "measure and share what the network learned."
)

left, right = st.columns([3, 2])
with left:
    st.subheader("Built-in faces")
    st.caption("Drawn by facegan itself, so it works with no download. Each new seed draws new faces.")
    seed = st.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="home_seed")
    st.image(builtin_faces(32, 64, int(seed)), caption="32 built-in faces at 64 px", width=560)
with right:
    st.subheader("Presets")
    for p in PRESETS.values():
        st.markdown(f"**{p.name}** — {p.summary}")
    st.subheader("Command line")
    st.code("python -m facegan prepare --data synthetic --resolution 64\n"
            "python -m facegan arch --preset stable-64", language="bash")
