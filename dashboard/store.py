"""What a browser session keeps between page runs, in two stores that never mix:

- the **settings** a new run starts from (:func:`values`): one flat ``{'section.name': value}`` dict,
  created from the default preset, edited by the Data page, the Train page and the presets, and turned
  into a :class:`~facegan.config.Config` by :func:`dashboard.forms.collect` as it is;
- the pages' own **choices** (:func:`remember`, :func:`recall`): which kind of data source is picked,
  the path typed for each kind, the runs picked on Runs or Explore. They are not configuration.

Both live in ``st.session_state``, not in the widgets: Streamlit forgets a widget's state when its page
is left, and several pages show the same setting or choice.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from facegan.presets import PRESETS

from . import settings
from .forms import flatten

SETTINGS = "fg_config"
CHOICES = "fg_ui"
_MISSING = object()


def values() -> dict[str, Any]:
    """The flat configuration this browser session is editing (created from the default preset)."""
    if SETTINGS not in st.session_state:
        st.session_state[SETTINGS] = flatten(settings.default_config())
    return st.session_state[SETTINGS]


def choices() -> dict[str, Any]:
    """The pages' own choices in this browser session."""
    return st.session_state.setdefault(CHOICES, {})


def remember(key: str, value) -> None:
    choices()[key] = value


def recall(key: str, default=None):
    return choices().get(key, default)


def apply_preset(name: str) -> None:
    """Replace every setting by preset ``name``'s, except the data source and how it is read (chosen on
    the Data page; a resolution the preset sets is taken, though) and the runs folder."""
    store = values()
    preset = PRESETS[name].overrides
    keep = {k: v for k, v in store.items() if (k.startswith("data.") and k not in preset) or k == "run.runs_root"}
    store.clear()
    store.update(flatten(settings.default_config(name)))
    store.update(keep)


def push(wkey: str, value) -> None:
    """Show ``value`` in widget ``wkey`` on this run (only when it differs: an unchanged widget keeps
    its own state)."""
    if st.session_state.get(wkey, _MISSING) != value:
        st.session_state[wkey] = value


def bind(wkey: str, key: str, default=None, valid=None, *, setting: bool = False) -> dict:
    """Show the stored ``key`` (a page's choice; with ``setting``, a configuration value) in widget
    ``wkey``, ``default`` when it is missing or not in ``valid``; returns the on_change arguments that
    copy the person's changes back into that store."""
    store = values() if setting else choices()
    v = store.get(key, default)
    if valid is not None and v not in valid:
        v = default
    store[key] = v
    push(wkey, v)
    return {"on_change": _copy, "args": (wkey, key, setting)}


def _copy(wkey: str, key: str, setting: bool) -> None:
    (values() if setting else choices())[key] = st.session_state.get(wkey)
