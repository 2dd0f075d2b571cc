"""MAE figures: the paper's four demo panels, per-patch error, strategies side by side, error vs mask ratio."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from vizcore.analysis.mae import PANEL_TITLES
from vizcore.export import render
from vizcore.figures._common import (
    PANEL_HEIGHT,
    PANEL_SIDE,
    _array,
    _colorbar,
    _image_axes,
    _image_trace,
    _panels,
    _style,
)

STRATEGY_COLOURS = {"random": "#0072B2", "block": "#D55E00", "grid": "#009E73", "focused": "#CC79A7"}  # Okabe-Ito


def mae_panels(original, masked, reconstruction, pasted, *, title: str = "MAE reconstruction",
               subtitle: str = "") -> go.Figure:
    """The paper's demo row: four images (each (3, H, W) or (H, W, 3), floats in [0, 1] or uint8)."""
    images = [render.as_uint8(a) for a in (original, masked, reconstruction, pasted)]
    fig, cols = _panels(4, 4, list(PANEL_TITLES))
    for i, rgb in enumerate(images):
        fig.add_trace(_image_trace(rgb, PANEL_SIDE), row=1, col=i + 1)
    _image_axes(fig, images[0].shape[:2])
    return _style(fig, title, PANEL_HEIGHT + 110, subtitle)


def patch_error_figure(error, mask, *, title: str = "Reconstruction error per hidden patch") -> go.Figure:
    """Heatmap of each hidden patch's mean squared error (gh, gw); visible patches are blank, marked with a circle.

    The MAE is trained on hidden patches only (its predictions for visible ones are not meant to be good), so
    only hidden patches are coloured: their scale is then not swamped by the visible patches' errors.
    """
    err = _array(error, 2, "a (gh, gw) error grid").astype(np.float32)
    kept = _array(mask, 2, "a (gh, gw) mask").astype(bool) == 0
    gh, gw = err.shape
    rows, cols = np.indices((gh, gw))
    fig = go.Figure(go.Heatmap(z=np.where(kept, np.nan, err), colorscale="Viridis", colorbar=_colorbar("MSE"),
                               customdata=np.stack([rows, cols], -1), hoverongaps=False, name="hidden patch",
                               hovertemplate="patch (%{customdata[0]}, %{customdata[1]}) hidden<br>"
                                             "MSE %{z:.4g}<extra></extra>"))
    ys, xs = np.nonzero(kept)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="visible to the encoder (not scored)",
                             hovertemplate="patch (%{y}, %{x}) visible<extra></extra>",
                             marker=dict(symbol="circle-open", size=10, color="#444444", line=dict(width=2))))
    fig.update_xaxes(title="patch column", range=[-0.5, gw - 0.5], constrain="domain", showgrid=False,
                     zeroline=False)
    fig.update_yaxes(title="patch row", range=[gh - 0.5, -0.5], scaleanchor="x", showgrid=False, zeroline=False)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", x=0, y=-0.18, yanchor="top"),
                      plot_bgcolor="#f4f4f4")
    _style(fig, title, 480, "mean squared error of the predicted pixels (0-1 scale), hidden patches only")
    return fig.update_layout(margin=dict(b=70))


def focus_region_figure(region, mask, *, title: str, subtitle: str = "", hide: bool = True) -> go.Figure:
    """The focus region's weight on each patch (g, g) in [0, 1], with the patches the mask hid marked.

    Args:
        region: (g, g) weight added (hide) or subtracted (keep) to each patch's shuffle noise, times the strength.
        mask: (g, g) 1 = hidden from the encoder, marked with crosses; None: no crosses.
    """
    weight = _array(region, 2, "a (g, g) region").astype(np.float32)
    g0, g1 = weight.shape
    fig = go.Figure(go.Heatmap(z=weight, zmin=0, zmax=1, colorscale="Blues", colorbar=_colorbar("focus<br>weight"),
                               name="focus weight",
                               hovertemplate="patch (%{y}, %{x})<br>focus weight %{z:.2f}<extra></extra>"))
    if mask is not None:  # None: the hidden patches are shown elsewhere (they change with the ratio)
        ys, xs = np.nonzero(_array(mask, 2, "a (g, g) mask").astype(bool))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="hidden from the encoder",
                                 marker=dict(symbol="x-thin", size=9, color="#D55E00",
                                             line=dict(width=2, color="#D55E00")),
                                 hovertemplate="patch (%{y}, %{x}) hidden<extra></extra>"))
    fig.update_xaxes(title="patch column", range=[-0.5, g1 - 0.5], constrain="domain", showgrid=False, zeroline=False)
    fig.update_yaxes(title="patch row", range=[g0 - 0.5, -0.5], scaleanchor="x", showgrid=False, zeroline=False)
    fig.update_layout(showlegend=True, legend=dict(orientation="h", x=0, y=-0.18, yanchor="top"))
    how = "hidden first" if hide else "kept first"
    crosses = "" if mask is None else "; crosses: the patches this mask hid"
    _style(fig, title, 440, subtitle or f"1 = the region's core ({how}){crosses}")
    return fig.update_layout(margin=dict(b=70))


def strategies_figure(rows: dict[str, tuple], *, title: str = "Masking strategies side by side") -> go.Figure:
    """One row per strategy: (masked, reconstruction + visible) images; `rows` maps name -> (masked, pasted, kept)."""
    n = len(rows)
    titles = [t for name, (_, _, kept) in rows.items()
              for t in (f"{name}: masked ({kept} kept)", f"{name}: reconstruction + visible")]
    fig, _ = _panels(2 * n, 2, titles)
    first = None
    for i, (masked, pasted, _) in enumerate(rows.values()):
        for j, img in enumerate((masked, pasted)):
            rgb = render.as_uint8(img)
            first = first if first is not None else rgb
            fig.add_trace(_image_trace(rgb, PANEL_SIDE), row=i + 1, col=j + 1)
    _image_axes(fig, first.shape[:2])
    return _style(fig, title, PANEL_HEIGHT * n + 90, "same image, same mask ratio and seed")


def error_vs_ratio_figure(ratios, errors: dict[str, list[float]], *, baseline: list[float] | None = None,
                          title: str = "Error vs mask ratio") -> go.Figure:
    """Mean hidden-patch MSE over a set of images, one line per strategy (and an optional no-model baseline)."""
    fig = go.Figure()
    for name, ys in errors.items():
        fig.add_trace(go.Scatter(x=list(ratios), y=ys, mode="lines+markers", name=name,
                                 line=dict(color=STRATEGY_COLOURS.get(name))))
    if baseline is not None:
        fig.add_trace(go.Scatter(x=list(ratios), y=baseline, mode="lines", name="mean-colour fill (no model)",
                                 line=dict(color="#777777", dash="dot")))
    fig.update_xaxes(title="mask ratio (fraction of patches hidden)", range=[0, 1])
    fig.update_yaxes(title="MSE on hidden patches", rangemode="tozero")
    fig.update_layout(legend=dict(title="strategy"))
    return _style(fig, title, 420, "mean over the sample images; lower is better")
