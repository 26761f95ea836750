"""Pickers of runs and checkpoints, the demo generator first on the pages that draw faces; the pick is
remembered across pages (:func:`dashboard.store.recall`)."""

from __future__ import annotations

import streamlit as st

from facegan.runs import RunInfo

from . import cached, settings
from .store import bind


def run_label(r: RunInfo) -> str:
    bits = [r.preset, f"{r.resolution} px" if r.resolution else None,
            f"{r.epochs_done}/{r.epochs} epochs" if r.epochs else None, (r.created or "").replace("T", " ")[:16]]
    return f"{r.name}  ·  " + ", ".join(b for b in bits if b)


def run_picker(label: str, key: str, runs: list[RunInfo], *, help: str | None = None) -> RunInfo | None:
    """A selectbox of runs (newest first); remembers the choice across pages (the choices store, under
    ``key``); returns the RunInfo picked, or None when there are no runs."""
    if not runs:
        return None
    names = [r.name for r in runs]
    by_name = {r.name: r for r in runs}
    name = st.selectbox(label, names, key=key, format_func=lambda n: run_label(by_name[n]), help=help,
                        **bind(key, key, names[0], names))
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
