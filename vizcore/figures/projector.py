"""Figures of the Embedding projector: the map of all points, the labels of a selection, and quality side by side.

The map is a WebGL scatter (`go.Scattergl`, float32 coordinates) in 2-D or `go.Scatter3d` in 3-D. Every point
carries its global row number in `customdata`, so a box / lasso selection in the app maps back to images no
matter how the points are split into traces. On the 2-D map, dragging draws a selection box (`dragmode="select"`);
panning and the lasso are toolbar buttons. Categories use colour-blind-safe palettes (Okabe & Ito up to 8,
vizcore's `CATEGORICAL` up to 20; beyond 20 the marker symbol changes too); numbers use Viridis.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from vizcore.errors import InputError
from vizcore.figures._common import CATEGORICAL, _colorbar, _style

# Okabe & Ito (2008), "Color Universal Design": distinguishable under every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")
# Beyond 8 categories: vizcore's shared palette of 20, clearly distinct at 10 classes and more (Safe's 2/7 and 1/8
# shared a hue on the digits; see `figures._common.CATEGORICAL`).
SAFE = CATEGORICAL
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "triangle-down", "star")
CONTINUOUS = "Viridis"
MAP_HEIGHT = 640


BIG_MAP = 20_000  # above this many points: circles only, smaller markers (measured: benchmarks/bench_scatter.py)


def category_style(k: int, n: int) -> tuple[str, str]:
    """(colour, marker symbol) of category k of n: Okabe-Ito up to 8, `CATEGORICAL` up to 20, then symbols cycle."""
    palette = OKABE_ITO if n <= len(OKABE_ITO) else SAFE
    return palette[k % len(palette)], SYMBOLS[(k // len(palette)) % len(SYMBOLS)]


def _coords(coords) -> np.ndarray:
    xy = np.asarray(coords, dtype=np.float32)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3) or len(xy) == 0:
        raise InputError(f"Expected map coordinates shaped (N, 2) or (N, 3); got {tuple(xy.shape)}.")
    return xy


def _marker_trace(xy: np.ndarray, rows: np.ndarray, hover: np.ndarray | None, name: str, marker: dict,
                  **kw) -> go.Scattergl | go.Scatter3d:
    """One marker trace over `rows` of the map; `customdata` holds the global row numbers."""
    pts = xy[rows]  # (n, dims) float32
    common = dict(mode="markers", name=name, customdata=rows.astype(np.int32), marker=marker,
                  text=None if hover is None else hover[rows], **kw)
    template = ("%{text}<extra></extra>" if hover is not None else "row %{customdata}<extra></extra>")
    if xy.shape[1] == 3:
        return go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=pts[:, 2], hovertemplate=template, **common)
    return go.Scattergl(x=pts[:, 0], y=pts[:, 1], hovertemplate=template, **common)


def projection_scatter(coords, *, title: str, subtitle: str = "", axis_titles: Sequence[str] = ("1", "2", "3"),
                       categories=None, category_names: Sequence[str] = (), values=None, color_title: str = "label",
                       hover: Sequence[str] | None = None, highlight=None, highlight_name: str = "matches",
                       contours: bool = False, height: int = MAP_HEIGHT) -> go.Figure:
    """All N points of a 2-D or 3-D map, coloured by a category or by a number.

    Args:
        coords: (N, 2) or (N, 3) map coordinates (sent as float32).
        categories: (N,) int index into `category_names` (one trace per category, legend entries), or None.
        values: (N,) numbers for a continuous colour scale (used when `categories` is None).
        color_title: what the colour encodes (legend / colour-bar title).
        hover: (N,) hover text per point (e.g. "digits/0042 · label 3").
        highlight: (N,) bool; matching points are drawn on top with a dark outline and the rest dimmed.
        contours: 2-D only: add the point density as contour lines (`go.Histogram2dContour`).
    """
    xy = _coords(coords)
    n, dims = xy.shape
    hover_arr = None if hover is None else np.asarray(hover, dtype=object)
    mask = None if highlight is None else np.asarray(highlight, dtype=bool)
    dim = mask is not None and mask.any()
    big = n > BIG_MAP  # software WebGL (no GPU) redraws plain, small circles ~2.5x faster at 100k points
    size = (4 if big else 6) if dims == 2 else 3
    fig = go.Figure()
    if contours and dims == 2:
        fig.add_trace(go.Histogram2dContour(
            x=xy[:, 0], y=xy[:, 1], name="density of points", showlegend=True, showscale=False, ncontours=12,
            contours=dict(coloring="lines"), colorscale=[[0, "#bbbbbb"], [1, "#333333"]], line=dict(width=1),
            hoverinfo="skip"))
    if categories is not None:
        cats = np.asarray(categories)
        if cats.shape != (n,):
            raise InputError(f"Got {cats.shape} categories for {n} points; give one per point.")
        for k, name in enumerate(category_names):
            rows = np.flatnonzero(cats == k)
            if len(rows) == 0:
                continue
            colour, symbol = category_style(k, len(category_names))
            marker = dict(size=size, color=colour, symbol="circle" if big else symbol, opacity=0.15 if dim else 0.8)
            fig.add_trace(_marker_trace(xy, rows, hover_arr, str(name), marker, legendgroup=str(k)))
    else:
        vals = np.asarray(values if values is not None else np.zeros(n), dtype=np.float32)
        if vals.shape != (n,):
            raise InputError(f"Got {vals.shape} colour values for {n} points; give one per point.")
        marker = dict(size=size, color=vals, colorscale=CONTINUOUS, showscale=True, colorbar=_colorbar(color_title),
                      opacity=0.15 if dim else 0.8)
        fig.add_trace(_marker_trace(xy, np.arange(n), hover_arr, color_title, marker))
    if dim:
        rows = np.flatnonzero(mask)
        marker = dict(size=size + 4, color="rgba(0,0,0,0)", line=dict(width=2, color="#111111"))
        fig.add_trace(_marker_trace(xy, rows, hover_arr, f"{highlight_name} ({len(rows):,})", marker))
    _axes(fig, dims, axis_titles)
    fig = _style(fig, title, height, subtitle)
    fig.update_layout(legend=dict(title_text=color_title, itemsizing="constant"), uirevision="map")
    if dims == 2:  # dragging selects (a box; lasso and pan are in the toolbar), as the page's caption says
        fig.update_layout(dragmode="select", selectdirection="any")
    return fig


def _axes(fig: go.Figure, dims: int, titles: Sequence[str]) -> None:
    if dims == 3:
        fig.update_layout(scene=dict(xaxis_title=titles[0], yaxis_title=titles[1], zaxis_title=titles[2]))
        return
    fig.update_xaxes(title_text=titles[0], zeroline=False)
    fig.update_yaxes(title_text=titles[1], zeroline=False)


def label_counts_figure(names: Sequence[str], counts: Sequence[int], totals: Sequence[int], *,
                        title: str = "Labels in the selection") -> go.Figure:
    """Horizontal bars: how many selected points carry each label (coloured as on the map), of how many in all.

    Args:
        names, counts, totals: per label, in the map's category order; labels with count 0 are left out.
    """
    n_all = len(names)
    keep = [k for k, c in enumerate(counts) if c > 0]
    fig = go.Figure()
    for k in keep:
        colour, _ = category_style(k, n_all)
        share = counts[k] / max(totals[k], 1)
        fig.add_trace(go.Bar(x=[counts[k]], y=[str(names[k])], orientation="h", name=str(names[k]),
                             marker_color=colour, text=[f"{counts[k]:,} of {totals[k]:,} ({share:.0%})"],
                             textposition="outside", textfont=dict(size=12), cliponaxis=False,
                             hovertemplate="%{y}: %{x:,} selected<extra></extra>", showlegend=False))
    fig.update_xaxes(title_text="selected images", range=[0, 1.3 * max([counts[k] for k in keep], default=1)])
    fig.update_yaxes(title_text="label", categoryorder="array", categoryarray=[str(names[k]) for k in keep][::-1])
    fig = _style(fig, title, 150 + 30 * len(keep), "bars are coloured as on the map; text: of all images with "
                 "that label")
    fig.update_layout(barmode="overlay", bargap=0.25)
    return fig


def quality_comparison_figure(scores: dict[str, dict[str, float | None]], *,
                              title: str = "Embedding quality, side by side") -> go.Figure:
    """Grouped bars: each metric (x) for each embedding source (colour, legend); None values are left out.

    Args:
        scores: source name -> {metric name -> value in [0, 1] or None}.
    """
    fig = go.Figure()
    for i, (source, row) in enumerate(scores.items()):
        metrics = [m for m, v in row.items() if v is not None]
        vals = [row[m] for m in metrics]
        fig.add_trace(go.Bar(x=metrics, y=vals, name=source, marker_color=OKABE_ITO[i % len(OKABE_ITO)],
                             text=[f"{v:.1%}" if "accuracy" in m else f"{v:.3f}" for m, v in zip(metrics, vals)],
                             textposition="outside", hovertemplate=f"{source}<br>%{{x}}: %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(title_text="metric")
    fig.update_yaxes(title_text="score (higher is better)", range=[0, 1.1])
    fig = _style(fig, title, 360, "accuracies on a held-out 20% of every class; trustworthiness of the 2-D map")
    fig.update_layout(barmode="group", legend=dict(title_text="embedding source"))
    return fig
