"""Plotly figures for ViT anatomy: one function per visual, arrays in, `go.Figure` out (never shown).

Inputs come from `vizcore.anatomy` (parameter totals, attention distance, CKA, activations, LayerNorm and
residual-stream statistics); no model is touched here.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizcore.errors import InputError
from vizcore.export import render
from vizcore.figures._common import CATEGORICAL, _array, _colorbar, _style

_BINS = 80


def parameter_bar(totals: dict[str, int], *, title: str) -> go.Figure:
    """Parameters per component as horizontal bars in table order, with counts and shares of the total.

    Args:
        totals: {component: parameters}, e.g. `anatomy.component_totals(anatomy.parameter_table(model))`.
    """
    if not totals:
        raise InputError("No parameters to draw; pass at least one component.")
    names, counts = list(totals), [int(v) for v in totals.values()]
    total = sum(counts)
    text = [f"{n:,} ({n / total:.1%})" if total else f"{n:,}" for n in counts]
    fig = go.Figure(go.Bar(x=counts, y=names, orientation="h", text=text, textposition="outside",
                           cliponaxis=False, marker_color="#4C78A8",
                           hovertemplate="%{y}: %{x:,} parameters<extra></extra>"))
    fig.update_xaxes(title_text="parameters", range=[0, max(counts) * 1.3 or 1])
    fig.update_yaxes(title_text="component", autorange="reversed", type="category", ticklabelstandoff=4)
    fig = _style(fig, title, 110 + 30 * len(names), f"total {total:,} parameters")
    fig.update_layout(showlegend=False)
    return fig


def attention_distance_figure(dist, *, title: str, patch_size: int | tuple[int, int] | None = None,
                              uniform: float | None = None) -> go.Figure:
    """Mean attention distance of every head against layer depth (ViT Fig. 7 right), one marker per head.

    Args:
        dist: (L, H) pixels, e.g. `anatomy.mean_attention_distance(maps.attn, maps.layout)`.
        patch_size: patch side(s) in pixels; when given, a dashed line marks one patch.
        uniform: the distance uniform attention gives on this grid (`anatomy.uniform_attention_distance`), drawn
            as the reference line: heads below it attend locally, heads near it no more locally than uniform.
    """
    d = _array(dist, 2, "distances of shape (layers, heads)").astype(np.float64)
    L, H = d.shape
    layers = np.arange(L)
    fig = go.Figure()
    palette = [c for c in CATEGORICAL if c != "#000000"]  # black is the mean over heads (a ViT-L has 16 heads)
    for h in range(H):
        fig.add_trace(go.Scatter(x=layers, y=d[:, h], mode="markers", name=f"head {h}",
                                 marker=dict(size=8, color=palette[h % len(palette)], opacity=0.85),
                                 hovertemplate=f"layer %{{x}}, head {h}<br>%{{y:.1f}} px<extra></extra>"))
    fig.add_trace(go.Scatter(x=layers, y=d.mean(axis=1), mode="lines", name="mean over heads",
                             line=dict(color="black", width=2, dash="dot"),
                             hovertemplate="layer %{x}: mean %{y:.1f} px<extra></extra>"))
    if patch_size is not None:
        side = float(np.mean(np.atleast_1d(patch_size)))
        fig.add_hline(y=side, line=dict(color="grey", dash="dash"), annotation_text="one patch",
                      annotation_position="top left")
    if uniform is not None:
        fig.add_hline(y=uniform, line=dict(color="#D55E00", dash="dash", width=2),
                      annotation_text=f"uniform attention: {uniform:.1f} px", annotation_position="bottom right",
                      annotation_font_color="#D55E00")
    fig.update_xaxes(title_text="network depth (layer)", dtick=1 if L <= 24 else None)
    top = max(float(d.max()), uniform or 0.0)
    fig.update_yaxes(title_text="mean attention distance (pixels)", range=[0, 1.12 * top])
    return _style(fig, title, 460, "attention-weighted distance between query and key patch centres, "
                  "prefix tokens removed, averaged over queries and images")


def cka_figure(matrix, *, title: str, colorscale: str = "Inferno", labels: list[str] | None = None) -> go.Figure:
    """Layer-by-layer linear CKA as a heatmap, layer 0 bottom-left (as in Raghu et al. 2021).

    Args:
        matrix: (L, L) CKA values in [0, 1], e.g. `anatomy.cka_matrix(anatomy.layer_features(model, images))`.
        labels: L axis labels (default "0" … "L-1", the block index).
    """
    m = _array(matrix, 2, "a (layers, layers) matrix").astype(np.float64)
    if m.shape[0] != m.shape[1]:
        raise InputError(f"A CKA matrix is square; got {m.shape}.")
    names = labels or [str(i) for i in range(len(m))]
    if len(names) != len(m):
        raise InputError(f"Got {len(names)} labels for {len(m)} layers; pass one each.")
    fig = go.Figure(go.Heatmap(z=m.astype(np.float32), x=names, y=names, zmin=0, zmax=1,
                               colorscale=render.check_colorscale(colorscale), colorbar=_colorbar("linear CKA"),
                               hovertemplate="layer %{y} vs layer %{x}<br>CKA %{z:.3f}<extra></extra>"))
    axis = dict(showgrid=False, zeroline=False, type="category", constrain="domain")
    fig.update_xaxes(title_text="layer (block output)", **axis)
    fig.update_yaxes(title_text="layer (block output)", scaleanchor="x", **axis)
    return _style(fig, title, 560, "1 = the same representation up to rotation and scale")


def activation_figure(curves: dict[str, np.ndarray], *, title: str) -> go.Figure:
    """GELU vs ReLU: values (left) and derivatives (right).

    Args:
        curves: from `anatomy.activation_curves(x)`: "x", "gelu", "relu", "gelu_grad", "relu_grad".
    """
    missing = {"x", "gelu", "relu", "gelu_grad", "relu_grad"} - set(curves)
    if missing:
        raise InputError(f"Activation curves are missing {sorted(missing)}; use anatomy.activation_curves(x).")
    x = np.asarray(curves["x"], dtype=np.float64)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["value", "derivative"], horizontal_spacing=0.08)
    for name, label, color, dash in (("gelu", "GELU", "#4C78A8", "solid"), ("relu", "ReLU", "#F58518", "dash")):
        for col, key in enumerate((name, f"{name}_grad")):
            fig.add_trace(go.Scatter(x=x, y=np.asarray(curves[key], dtype=np.float64), mode="lines",
                                     name=label, legendgroup=name, showlegend=col == 0,
                                     line=dict(color=color, dash=dash, width=2),
                                     hovertemplate=f"{label}{'′' if col else ''}(%{{x:.2f}}) = "
                                                   "%{y:.3f}<extra></extra>"), row=1, col=col + 1)
    fig.update_xaxes(title_text="x", zeroline=True)
    fig.update_yaxes(title_text="f(x)", row=1, col=1)
    fig.update_yaxes(title_text="f′(x)", row=1, col=2)
    return _style(fig, title, 400, "GELU(x) = x·Φ(x) is smooth and lets small negative inputs through; "
                  "GELU′(x) = Φ(x) + x·φ(x)")


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Share of values per bin (bin centres, shares, bin width) over a range that clips the extreme 0.1%."""
    lo, hi = np.quantile(values, [0.0005, 0.9995])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(np.clip(values, lo, hi), bins=_BINS, range=(lo, hi))
    return (edges[:-1] + edges[1:]) / 2, counts / max(1, counts.sum()), float(edges[1] - edges[0])


def layernorm_hist_figure(before, after, *, title: str) -> go.Figure:
    """Distribution of token features entering and leaving the pre-block LayerNorm, side by side.

    Args:
        before, after: feature values of any shape, e.g. (B, N, D) from `anatomy.layernorm_effect`.
    """
    panels = []
    for label, values in (("before LayerNorm (residual stream)", before), ("after LayerNorm", after)):
        v = render.as_array(values).astype(np.float64).ravel()
        v = v[np.isfinite(v)]
        if v.size == 0:
            raise InputError(f"No finite feature values {label.split(' (')[0]}; pass the arrays from layernorm_effect.")
        panels.append((label, v))
    titles = [f"{label}<br>mean {v.mean():.3g}, std {v.std():.3g}" for label, v in panels]
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles, horizontal_spacing=0.08)
    for col, ((label, v), color) in enumerate(zip(panels, ("#F58518", "#4C78A8"))):
        centres, share, width = _histogram(v)
        fig.add_trace(go.Bar(x=centres, y=share, width=width, marker_color=color, name=label.split(" (")[0],
                             hovertemplate="value %{x:.3g}<br>%{y:.2%} of features<extra></extra>"),
                      row=1, col=col + 1)
        fig.update_xaxes(title_text="feature value", row=1, col=col + 1)
    fig.update_yaxes(tickformat=".1%")
    fig.update_yaxes(title_text="share of features", row=1, col=1)
    fig = _style(fig, title, 440, "every feature of every token; the extreme 0.1% are gathered in the end bins")
    fig.update_layout(bargap=0, legend=dict(orientation="h", yanchor="bottom", y=-0.35, x=0), margin=dict(t=135))
    return fig


def residual_norm_figure(norms, *, title: str) -> go.Figure:
    """Mean L2 norm of the residual stream: the embedded input, then after each block.

    Args:
        norms: (L + 1,), e.g. `anatomy.residual_norms(model, images)`.
    """
    n = _array(norms, 1, "norms of shape (layers + 1,)").astype(np.float64)
    labels = ["embed"] + [f"block {i}" for i in range(len(n) - 1)]
    fig = go.Figure(go.Scatter(x=labels, y=n, mode="lines+markers", name="mean ‖x‖₂",
                               line=dict(color="#4C78A8", width=2),
                               hovertemplate="%{x}: mean norm %{y:.3g}<extra></extra>"))
    fig.update_xaxes(title_text="position in the network", type="category")
    fig.update_yaxes(title_text="mean L2 norm of a token", rangemode="tozero")
    fig = _style(fig, title, 400, "each block adds its output to the stream; averaged over tokens and images")
    fig.update_layout(showlegend=True, legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"))
    return fig
