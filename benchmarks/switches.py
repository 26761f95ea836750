"""facegan's CPU speed-ups that a benchmark can switch off, to measure each against the code without it.

    python benchmarks/switches.py "hashed noise" [NAME ...] -- train --preset faces-64 ...

run as a script, it is ``python -m facegan ...`` with the named changes off (how quality_budget.py trains
an arm without one); ``switched_off(name)`` does the same around a block (how roofline.py times them).
"""

from __future__ import annotations

import sys
from contextlib import ExitStack, contextmanager

import facegan.models.convs as convs
import facegan.models.layers as layers

# Each change as (module, attribute, value that switches it off): the fast paths read these at call time.
CHANGES = {"small-map weight gradient": (convs, "SMALL_MAP", 0),
           "chunked normal noise": (layers, "CHUNK", 1 << 62),
           "hashed noise": (layers, "HASHED_MIN", 1 << 62)}


def check(name: str) -> str:
    if name not in CHANGES:
        raise SystemExit(f"no change called {name!r}; the changes are: " + ", ".join(map(repr, CHANGES)))
    return name


@contextmanager
def switched_off(name: str | None):
    """The block runs with change ``name`` off (``None``: as shipped)."""
    if name is None:
        yield
        return
    module, attr, off = CHANGES[check(name)]
    before = getattr(module, attr)
    setattr(module, attr, off)
    try:
        yield
    finally:
        setattr(module, attr, before)


def main(argv: list[str]) -> int:
    if "--" not in argv:
        raise SystemExit('usage: switches.py NAME [NAME ...] -- FACEGAN-ARGS (e.g. "hashed noise" -- train ...)')
    split = argv.index("--")
    from facegan.cli import main as facegan_main
    with ExitStack() as stack:
        for name in argv[:split]:
            stack.enter_context(switched_off(name))
        return facegan_main(argv[split + 1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
