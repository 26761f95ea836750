"""The dashboard's Plotly figures. Each takes plain records or frames and returns a figure; nothing here
reads files or computes a metric."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from facegan.metrics.registry import HEADLINE_LABELS

MAX_POINTS = 3000  # per line: more only slows the browser down
PALETTE = ["#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2", "#FF9DA6", "#9D755D",
           "#BAB0AC", "#EECA3B"]

# What the training log's columns are called on a chart.
SERIES = {
    "loss_g": "G loss", "loss_d": "D loss", "d_real": "D(x): real images", "d_fake": "D(G(z)): fakes",
    "d_fake_g": "D(G(z)) in G's step", "grad_norm_d": "D gradient norm", "grad_norm_g": "G gradient norm",
    "lr_g": "G learning rate", "lr_d": "D learning rate", "noise_d": "D noise std", "noise_g": "G noise std",
    "noise_instance": "instance noise std", "images_per_s": "images per second",
    "augment_p": "augmentation probability p",
}

# Short names of the headline numbers of an evaluation, for tables and axes: the registry's.
METRIC_SHORT = HEADLINE_LABELS


def step_frame(records: list[dict]) -> pd.DataFrame:
    """The per-step log records (``kind == 'step'``) of a run as a frame, one row per logged step."""
    rows = [r for r in records if r.get("kind") == "step"]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    return df.drop_duplicates("step", keep="last").sort_values("step").reset_index(drop=True)


def _thin(df: pd.DataFrame) -> pd.DataFrame:
    if len(df) <= MAX_POINTS:
        return df
    every = -(-len(df) // MAX_POINTS)
    return pd.concat([df.iloc[::every], df.iloc[[-1]]]).drop_duplicates("step")


def _smooth(y: pd.Series) -> pd.Series:
    window = max(1, len(y) // 40)
    return y.rolling(window, min_periods=1).mean() if window > 1 else y


def _style(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=60, b=10), hovermode="x unified",
                      legend=dict(orientation="h", yanchor="bottom", y=-0.32, xanchor="left", x=0),
                      template="plotly_white")
    return fig


def loss_figure(df: pd.DataFrame, epoch_steps: list[int] | None = None) -> go.Figure:
    """Two panels: the G and D losses, and D's average verdict on real images (D(x)) and on fakes
    (D(G(z))), against the training step; a third with the augmentation probability p when the run
    augments (DiffAugment). Faint lines are the raw log, bold ones a moving average."""
    augmenting = "augment_p" in df
    titles = ("Losses", "D's verdict (1 real, 0 fake)") + (("Augmentation p",) if augmenting else ())
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.1)
    if df.empty:
        return _style(fig, 360)
    df = _thin(df)
    for col, (name, color, panel) in {"loss_g": ("G loss", PALETTE[0], 1), "loss_d": ("D loss", PALETTE[1], 1),
                                      "d_real": ("D(x)", PALETTE[2], 2),
                                      "d_fake": ("D(G(z))", PALETTE[3], 2),
                                      "augment_p": ("p", PALETTE[4], 3)}.items():
        if col not in df:
            continue
        y = df[col].astype(float)
        smooth = _smooth(y)
        if smooth is not y:
            fig.add_trace(go.Scatter(x=df["step"], y=y, name=name, mode="lines", line=dict(color=color, width=1),
                                     opacity=0.3, showlegend=False, hoverinfo="skip"), row=1, col=panel)
        fig.add_trace(go.Scatter(x=df["step"], y=smooth, name=name, line=dict(color=color, width=2),
                                 mode="lines" if len(df) > 30 else "lines+markers"), row=1, col=panel)
    # Epoch ends as dotted lines, set in one go: add_vline once per line and panel re-validates every shape
    # so far, which took 1.4 s at 36 epochs and, redrawn every 1.5 s, slowed the training it watched 10x.
    fig.update_layout(shapes=[dict(type="line", x0=s, x1=s, y0=0, y1=1, xref=f"x{panel if panel > 1 else ''}",
                                   yref=f"y{panel if panel > 1 else ''} domain",
                                   line=dict(color="#cccccc", width=1, dash="dot"))
                              for s in (epoch_steps or [])[:60] for panel in range(1, len(titles) + 1)])
    fig.update_xaxes(title_text="training step")
    return _style(fig, 360)


def runs_figure(frames: dict[str, pd.DataFrame], column: str, x: str = "step") -> go.Figure:
    """One line per run of ``column`` against ``x`` ('step' or 'epoch'), smoothed, for comparing runs."""
    fig = go.Figure()
    for i, (name, df) in enumerate(frames.items()):
        if df.empty or column not in df or x not in df:
            continue
        df = _thin(df)
        if x == "epoch":  # one point per epoch: the epoch's mean
            d = df.groupby("epoch", as_index=False)[column].mean()
            xs, ys = d["epoch"], d[column]
        else:
            xs, ys = df[x], _smooth(df[column].astype(float))
        few = x == "epoch" or len(xs) <= 30
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers" if few else "lines",
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=2)))
    fig.update_layout(title=SERIES.get(column, column), xaxis_title="training step" if x == "step" else "epoch",
                      showlegend=True)
    return _style(fig, 420)


def metric_history_figure(history: list[dict], names: list[str], titles: dict[str, str] | None = None) -> go.Figure:
    """Each metric in ``names`` over the epochs it was measured at, one small panel each."""
    names = [n for n in names if any(n in h for h in history)]
    titles = titles or {}
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=[titles.get(n, n) for n in names] or [""])
    for i, n in enumerate(names):
        pts = sorted((h.get("epoch") or 0, h[n]) for h in history if n in h)
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=titles.get(n, n),
                                 mode="lines+markers", line=dict(color=PALETTE[i % len(PALETTE)], width=2)),
                      row=1, col=i + 1)
    fig.update_xaxes(title_text="epoch")
    fig.update_layout(showlegend=False)
    return _style(fig, 320)


TSNE_TRACES = ("real", "generated")  # the map's traces, in order: a selection names them by number


def tsne_figure(table: pd.DataFrame) -> go.Figure:
    """The t-SNE map: real faces and generated faces as two colours of points. Points that overlap mean
    the generator makes faces like those real ones; islands of one colour are what it misses (real) or
    invents (generated)."""
    fig = go.Figure()
    for kind, color in zip(TSNE_TRACES, PALETTE):
        name = f"{kind} faces"
        part = table[table["kind"] == kind]
        fig.add_trace(go.Scatter(x=part["x"], y=part["y"], mode="markers", name=name,
                                 marker=dict(color=color, size=7, opacity=0.75, line=dict(width=0)),
                                 customdata=part[["index"]].to_numpy(),
                                 hovertemplate=f"{name[:-1]} #%{{customdata[0]}}<extra></extra>"))
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False)
    _style(fig, 480)
    fig.update_layout(dragmode="select", clickmode="event+select", hovermode="closest",
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="left", x=0))
    return fig


def tsne_selection(table: pd.DataFrame, points: list[dict], limit: int = 24) -> tuple[list[int], list[int]]:
    """The faces behind the points picked on :func:`tsne_figure` (Plotly's selection: each point's trace
    number and its index in that trace), at most ``limit`` of them, as (real indices, generated indices)
    into the sets the evaluation compared."""
    real, fake = [], []
    for p in points[:limit]:
        kind = TSNE_TRACES[p.get("curve_number", 0)]
        part = table[table["kind"] == kind]
        i = p.get("point_index", p.get("point_number"))
        if i is not None and 0 <= i < len(part):
            (real if kind == "real" else fake).append(int(part.iloc[int(i)]["index"]))
    return real, fake
