"""Page furniture every page shares: the header (and the way back through ``app.py`` for a page opened
directly), durations as people say them, a progress bar that follows a slow call, and a path check."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import streamlit as st

NAV_FLAG = "fg_nav"       # set by app.py on every run, before it runs the page
WANTED_PAGE = "fg_wanted"  # a page asked for before app.py had run, for app.py to open


def page_header(title: str, caption: str, page: str) -> None:
    """The page's title and caption. A page's address opened before any browser session has run
    ``app.py`` makes Streamlit run the page alone, in its old ``pages/`` folder mode (no navigation
    bar, no wide layout); then go through app.py, which opens this page again properly."""
    if not st.session_state.get(NAV_FLAG):
        st.session_state[WANTED_PAGE] = page
        st.switch_page("app.py")
    st.title(title, anchor=False)
    st.caption(caption)


def duration(seconds: float | None) -> str:
    """'45 s', '3 min 05 s', '2 h 10 min'."""
    if seconds is None:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def run_with_progress(fn: Callable[[Callable], Any], text: str, *, stop_key: str | None = None,
                      stopped: type[BaseException] | None = None) -> Any:
    """Run ``fn(progress)`` in a worker thread while a progress bar on this page follows it.
    ``progress`` may be called as ``progress(done, total)``, ``progress(stage, done, total)`` or
    ``progress(fraction)``, from any thread. Returns fn's result or raises its exception.

    With ``stop_key``, a Stop button (that key) shows under the bar. Pressing it, or leaving the page,
    ends this page run; the worker's next ``progress`` call then raises ``stopped``, and ``fn`` is expected
    to return what it has. That outcome is kept for the page's next run: :func:`stopped_result`."""
    bar = st.progress(0.0, text=text)
    box: dict[str, Any] = {"frac": 0.0, "msg": text}
    cancel = threading.Event()

    def progress(*args):
        if cancel.is_set() and stopped is not None:
            raise stopped()
        stage = None
        if args and isinstance(args[0], str):  # (stage, done, total)
            stage, args = args[0], args[1:]
        a = args[0] if args else 0
        b = args[1] if len(args) > 1 else None
        msg = f"{text}: {stage}" if stage else text
        if isinstance(b, (int, float)) and not isinstance(b, bool) and b:
            box["frac"], box["msg"] = a / b, f"{msg} ({a:,} of {b:,})"
        else:
            box["frac"], box["msg"] = float(a or 0), msg

    out: dict[str, Any] = {}

    def work():
        try:
            out["value"] = fn(progress)
        except BaseException as e:  # handed to the page's thread below
            out["error"] = e

    t = threading.Thread(target=work, name="facegan-dashboard-work", daemon=True)
    t.start()
    stop_box = st.empty()
    if stop_key:
        stop_box.button("Stop", icon=":material/stop:", key=stop_key)
    done = False
    try:
        while t.is_alive():
            t.join(0.25)
            bar.progress(min(1.0, max(0.0, box["frac"])), text=box["msg"])
        done = True
    finally:
        if not done:  # this page run was cut short (Stop, or another click): let the worker end early
            cancel.set()
            if stop_key:  # not in session_state: what an interrupted run writes there is dropped
                _LEFT[(_session(), stop_key)] = (t, out)
    bar.empty()
    stop_box.empty()
    if "error" in out:
        raise out["error"]
    return out.get("value")


_LEFT: dict[tuple[str, str], tuple[threading.Thread, dict]] = {}  # (session, stop key) -> a stopped work


def _session() -> str:
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def stopped_result(stop_key: str, wait: float = 10.0) -> Any:
    """What the work that ``run_with_progress(..., stop_key=stop_key)`` was doing when its page run was
    cut short returned (it stops at its next progress call); None when there is none. Raises its error."""
    left = _LEFT.pop((_session(), stop_key), None)
    if left is None:
        return None
    t, out = left
    t.join(wait)
    if "error" in out:
        raise out["error"]
    return out.get("value")


def path_exists(p: str) -> bool:
    try:
        return Path(p).expanduser().exists()
    except OSError:
        return False
