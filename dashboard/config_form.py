"""The configuration as Streamlit widgets: one widget per field, made from its :class:`FieldSpec` and bound
to the settings store (:func:`dashboard.store.values`), and the whole configuration as tabs of them."""

from __future__ import annotations

import streamlit as st

from facegan.config import SECTIONS

from .forms import SECTION_TITLES, FieldSpec, field_specs, groups
from .store import push, values


def _sync(wkey: str, spec: FieldSpec) -> None:
    """on_change: copy a widget's new value into the store before the page re-runs."""
    ss = st.session_state
    if spec.kind in ("range", "pair"):
        values()[spec.key] = (ss.get(wkey + ".0"), ss.get(wkey + ".1"))
    else:
        values()[spec.key] = ss.get(wkey)


def field_widget(spec: FieldSpec, *, prefix: str = "cfg", disabled: bool = False, error: str | None = None,
                 label: str | None = None, help: str | None = None):
    """The widget of one config field, bound to the store: a selectbox for choices, a checkbox for
    booleans, a number box with the field's limits, two numbers for a (low, high) range or a pair, a
    text box for text. Shows ``error`` right under it. Returns the value shown."""
    store = values()
    wkey = f"{prefix}.{spec.key}"
    value = store.get(spec.key, spec.default)
    kw = dict(label=label or spec.label, help=help or spec.help, disabled=disabled, on_change=_sync,
              args=(wkey, spec))
    if spec.kind == "choice":
        choices = list(spec.choices)
        push(wkey, value if value in choices else spec.default)
        fmt = (lambda v: f"{v} px") if spec.name == "resolution" else str
        out = st.selectbox(options=choices, key=wkey, format_func=fmt, **kw)
    elif spec.kind == "bool":
        push(wkey, bool(value))
        out = st.checkbox(key=wkey, **kw)
    elif spec.kind in ("int", "float"):
        out = _number(spec, wkey, value, kw)
    elif spec.kind in ("range", "pair"):
        pair = value if isinstance(value, (tuple, list)) and len(value) == 2 else spec.default
        cols = st.columns(2)
        parts = []
        for i, (col, part) in enumerate(zip(cols, spec.part_labels())):
            with col:
                sub = FieldSpec(**{**spec.__dict__, "kind": "float", "optional": False})
                parts.append(_number(sub, f"{wkey}.{i}", pair[i], {**kw, "label": f"{kw['label']} · {part}",
                                                                   "help": kw["help"] if i == 0 else None}))
        out = tuple(parts)
    else:
        text = "" if value is None else str(value)
        push(wkey, text)
        out = st.text_input(key=wkey, placeholder="empty" if spec.optional else None, **kw)
        if spec.optional and not out.strip():
            out = None
    if error:
        st.error(error, icon=":material/error:")
    store[spec.key] = out
    return out


def _number(spec: FieldSpec, wkey: str, value, kw: dict, placeholder: str | None = None):
    if spec.kind == "int":
        cast = int
        fmt = "%d"
    else:
        cast = float
        fmt = "%g"
    lo = None if spec.lo is None else cast(spec.lo)
    hi = None if spec.hi is None else cast(spec.hi)
    try:
        v = None if value is None else cast(value)
    except (TypeError, ValueError):
        v = spec.default
    if v is not None and ((lo is not None and v < lo) or (hi is not None and v > hi)):
        v = spec.default
    push(wkey, v)
    extra = {"value": None} if spec.optional else {}
    return st.number_input(key=wkey, min_value=lo, max_value=hi, step=cast(spec.step or 1), format=fmt,
                           placeholder=placeholder or ("empty" if spec.optional else None), **extra, **kw)


def config_form(errors: dict[str, str], *, disabled: bool = False, columns: int = 3) -> None:
    """Every config section as a tab of widgets, sub-grouped by the fields' 'group' metadata, with each
    field's validation message right under it."""
    sections = list(SECTION_TITLES)
    tabs = st.tabs([SECTION_TITLES[s] for s in sections])  # fixed labels: a tab stays open across re-runs
    for tab, section in zip(tabs, sections):
        with tab:
            st.caption(SECTIONS[section].__doc__.strip())
            for group, specs in groups(field_specs(section)):
                if group:
                    st.markdown(f"**{group.capitalize()}**")
                cols = st.columns(columns)
                for i, spec in enumerate(specs):
                    with cols[i % columns]:
                        field_widget(spec, disabled=disabled, error=errors.get(spec.key))
