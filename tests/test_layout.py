"""The code's shape: facegan's modules import each other without a cycle (read from every import
statement, those inside functions too), and the metric tables have one home."""

import ast
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def import_graph(package: str = "facegan") -> dict[str, set[str]]:
    mods = {}
    for p in (ROOT / package).rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        here = m.split(".") if p.name == "__init__.py" else m.split(".")[:-1]
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m:
                    graph[m].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                found.append(sorted(comp))
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_facegan_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and graph["facegan.job"] >= {"facegan.job_status", "facegan.launcher"}
    assert cycles(graph) == []
    # the check sees a cycle when there is one
    assert cycles({**graph, "facegan.job_status": graph["facegan.job_status"] | {"facegan.job"}})


@pytest.mark.filterwarnings("ignore:FID from only")
def test_the_metric_registry_is_the_one_table_of_names_labels_and_aliases():
    from dashboard import charts
    from facegan.metrics.evaluate import metric_names
    from facegan.metrics.reference import from_features
    from facegan.metrics.registry import HEADLINE_LABELS, METRICS, compute, compute_sets
    from facegan.runs import headline
    assert metric_names("pr, 1NN,fid") == ["precision_recall", "knn", "fid"]
    assert charts.METRIC_SHORT is HEADLINE_LABELS and HEADLINE_LABELS["knn_accuracy"] == "1-NN accuracy"
    assert headline({"precision_recall": {"precision": 0.5, "recall": 0.25, "k": 3}, "other": {"x": 1}}) == \
        {"precision": 0.5, "recall": 0.25, "other": 1.0}
    g = np.random.default_rng(0)
    real, fake = g.normal(size=(300, 4)), g.normal(size=(200, 4)) + 0.5
    sets = compute_sets(["fid", "kid"], from_features(real, {}), from_features(fake, {}), subset_size=100)
    plain = compute(["fid", "kid"], real, fake, subset_size=100)
    assert abs(sets["fid"]["fid"] - plain["fid"]["fid"]) < 1e-9 and sets["kid"] == plain["kid"]
    assert all(m.short and m.title and m.better for m in METRICS.values())


def test_ruff_finds_nothing():
    """pyflakes and pycodestyle (pyproject.toml's [tool.ruff]) over the whole repository."""
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], capture_output=True,
                         text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
