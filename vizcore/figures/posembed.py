"""Plotly figures for position embeddings: one function per visual, arrays in, `go.Figure` out (never shown).

Inputs come from `vizcore.posembed` (similarity grids, offset similarity, principal components); no model is
touched here. The similarity grid (ViT Fig. 7 centre) is drawn as ONE heatmap mosaic with one-cell gaps, so a
14 x 14 grid (196 tiles) or a 37 x 37 grid stays light and hovering names both patches.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizcore.errors import InputError
from vizcore.export import render
from vizcore.figures._common import PANEL_HEIGHT, _array, _colorbar, _image_axes, _panels, _style

SCALES = {"cosine": "colour scale fixed to cosine -1 … 1", "data": "colour scale from the grid's min to max"}
_MAX_CELLS = 250_000  # mosaic cells sent to the browser; larger grids show every s-th query tile


def _tile_stride(gh: int, gw: int, max_cells: int) -> int:
    """Smallest s such that showing every s-th query row and column keeps the mosaic under `max_cells`."""
    s = 1
    while math.ceil(gh / s) * (gh + 1) * math.ceil(gw / s) * (gw + 1) > max_cells and s < max(gh, gw):
        s += 1
    return s


def _sim_mosaic(sim: np.ndarray, qr: np.ndarray, qc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tiles sim[qr][:, qc] (nr, nc, gh, gw) laid out with one NaN cell between them, plus (qr, qc, kr, kc)."""
    gh, gw = sim.shape[2:]
    tiles = sim[np.ix_(qr, qc)]  # (nr, nc, gh, gw)
    nr, nc = tiles.shape[:2]
    padded = np.pad(tiles, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=np.nan)  # (nr, nc, gh+1, gw+1)
    z = padded.transpose(0, 2, 1, 3).reshape(nr * (gh + 1), nc * (gw + 1))[:-1, :-1]
    i, j, kr, kc = np.indices(padded.shape)
    labels = np.stack([qr[i], qc[j], kr, kc], axis=-1)  # (nr, nc, gh+1, gw+1, 4)
    labels = labels.transpose(0, 2, 1, 3, 4).reshape(nr * (gh + 1), nc * (gw + 1), 4)[:-1, :-1]
    return z.astype(np.float32), labels.astype(np.uint8 if max(gh, gw) < 256 else np.uint16)


def similarity_grid_figure(sim, *, title: str, colorscale: str = "Viridis", scale: str = "cosine",
                           max_cells: int = _MAX_CELLS) -> go.Figure:
    """ViT Fig. 7 (centre): tile (r, c) shows patch (r, c)'s position-embedding similarity to every patch.

    Args:
        sim: (gh, gw, gh, gw) cosine similarities, e.g. `posembed.similarity_grid(model)`.
        scale: "cosine" (one colour scale -1 … 1 for every tile) or "data" (the grid's min … max).
        max_cells: budget of heatmap cells; beyond it only every s-th query row/column gets a tile (the
            subtitle says so), each tile still at full resolution.
    """
    if scale not in SCALES:
        raise InputError(f"Unknown scale '{scale}'. Use 'cosine' or 'data'.")
    arr = _array(sim, 4, "similarities of shape (gh, gw, gh, gw)").astype(np.float64)
    gh, gw = arr.shape[:2]
    if arr.shape[2:] != (gh, gw):
        raise InputError(f"Expected similarities shaped (gh, gw, gh, gw); got {arr.shape}.")
    s = _tile_stride(gh, gw, max_cells)
    qr, qc = np.arange(0, gh, s), np.arange(0, gw, s)
    z, labels = _sim_mosaic(arr, qr, qc)
    zmin, zmax = (-1.0, 1.0) if scale == "cosine" else (float(np.nanmin(z)), float(np.nanmax(z)))
    fig = go.Figure(go.Heatmap(
        z=z, customdata=labels, colorscale=render.check_colorscale(colorscale), zmin=zmin, zmax=zmax,
        hoverongaps=False, colorbar=_colorbar("cosine<br>similarity"),
        hovertemplate="patch (%{customdata[0]}, %{customdata[1]}) vs (%{customdata[2]}, %{customdata[3]})"
                      "<br>cosine %{z:.3f}<extra></extra>"))
    step = max(1, math.ceil(max(len(qr), len(qc)) / 16))  # at most ~16 tick labels per axis
    axis = dict(showgrid=False, zeroline=False, ticks="", constrain="domain")
    fig.update_xaxes(tickvals=[t * (gw + 1) + (gw - 1) / 2 for t in range(0, len(qc), step)],
                     ticktext=[str(c) for c in qc[::step]], title_text="patch column", **axis)
    fig.update_yaxes(tickvals=[t * (gh + 1) + (gh - 1) / 2 for t in range(0, len(qr), step)],
                     ticktext=[str(r) for r in qr[::step]], title_text="patch row", autorange="reversed",
                     scaleanchor="x", **axis)
    shown = "every patch" if s == 1 else f"tiles for patch rows and columns 0, {s}, {2 * s}, …"
    return _style(fig, title, 780, f"tile (r, c): similarity of patch (r, c) to all {gh} x {gw} patches · "
                  f"{shown} · {SCALES[scale]}")


def offset_similarity_figure(off, *, title: str, colorscale: str = "Viridis") -> go.Figure:
    """Mean cosine similarity against (row offset, column offset) between patches, centre = same patch.

    Args:
        off: (2gh-1, 2gw-1), e.g. `posembed.offset_similarity(pe)`.
    """
    arr = _array(off, 2, "offset similarities of shape (2gh-1, 2gw-1)")
    if arr.shape[0] % 2 == 0 or arr.shape[1] % 2 == 0:
        raise InputError(f"Offset grids have odd sides (2gh-1, 2gw-1); got {arr.shape}.")
    dr = np.arange(arr.shape[0]) - arr.shape[0] // 2
    dc = np.arange(arr.shape[1]) - arr.shape[1] // 2
    fig = go.Figure(go.Heatmap(
        z=arr.astype(np.float32), x=dc, y=dr, colorscale=render.check_colorscale(colorscale),
        colorbar=_colorbar("mean cosine<br>similarity"),
        hovertemplate="row offset %{y}, column offset %{x}<br>mean cosine %{z:.3f}<extra></extra>"))
    fig.update_xaxes(title_text="column offset Δc (patches)", showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(title_text="row offset Δr (patches)", showgrid=False, zeroline=False, autorange="reversed",
                     scaleanchor="x")
    return _style(fig, title, 520, "averaged over every pair of patches at that offset; 2-D-aware embeddings "
                  "fall off with both offsets")


def principal_components_figure(pcs, ratios, *, title: str, colorscale: str = "RdBu", cols: int = 4) -> go.Figure:
    """The first principal components of the position embeddings, each drawn over the patch grid.

    Args:
        pcs: (k, gh, gw) component scores, e.g. `posembed.principal_components(pe)[0]`.
        ratios: (k,) explained variance ratios, for the panel titles.
    """
    comps = _array(pcs, 3, "components of shape (k, gh, gw)").astype(np.float64)
    share = np.asarray(ratios, dtype=np.float64).ravel()
    if len(share) != len(comps):
        raise InputError(f"Got {len(share)} variance ratios for {len(comps)} components; pass one each.")
    peak = np.abs(comps).reshape(len(comps), -1).max(axis=1)  # (k,)
    shown = comps / np.where(peak > 0, peak, 1.0)[:, None, None]  # each in [-1, 1]
    fig, cols = _panels(len(comps), cols, [f"PC{i + 1}: {r:.1%} of variance" for i, r in enumerate(share)])
    for i, grid in enumerate(shown):
        row, col = divmod(i, cols)
        fig.add_trace(go.Heatmap(z=grid.astype(np.float32), coloraxis="coloraxis", name=f"PC{i + 1}",
                                 hovertemplate=f"PC{i + 1}<br>patch (%{{y}}, %{{x}})<br>%{{z:.2f}}<extra></extra>"),
                      row=row + 1, col=col + 1)
    fig.update_layout(coloraxis=dict(colorscale=render.check_colorscale(colorscale), cmin=-1, cmax=1,
                                     colorbar=_colorbar("score<br>(÷ max |score|)")))
    _image_axes(fig, comps.shape[1:])
    rows = math.ceil(len(comps) / cols)
    return _style(fig, title, PANEL_HEIGHT * rows + 120, "each patch's coordinate along the component, "
                  "patches in grid position; each panel scaled by its largest magnitude")


def sincos_vs_learned_figure(learned_off, sincos_off, *, title: str,
                             labels: tuple[str, str] = ("learned", "fixed 2-D sin-cos")) -> go.Figure:
    """Similarity against offset along a row and along a column, learned vs fixed sin-cos (the 1-D vs 2-D test).

    Args:
        learned_off, sincos_off: (2gh-1, 2gw-1) from `posembed.offset_similarity` on the same grid.
    """
    offs = [_array(o, 2, "offset similarities of shape (2gh-1, 2gw-1)") for o in (learned_off, sincos_off)]
    if offs[0].shape != offs[1].shape:
        raise InputError(f"Both offset grids must share a shape; got {offs[0].shape} and {offs[1].shape}.")
    cr, cc = offs[0].shape[0] // 2, offs[0].shape[1] // 2
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.05,
                        subplot_titles=["along a row (Δr = 0)", "along a column (Δc = 0)"])
    for off, label, color in zip(offs, labels, ("#4C78A8", "#F58518")):
        for col, (x, y) in enumerate(((np.arange(off.shape[1]) - cc, off[cr]),
                                      (np.arange(off.shape[0]) - cr, off[:, cc]))):
            fig.add_trace(go.Scatter(x=x, y=y.astype(np.float32), mode="lines+markers", name=label,
                                     legendgroup=label, showlegend=col == 0, line=dict(color=color),
                                     hovertemplate=f"{label}<br>offset %{{x}}: %{{y:.3f}}<extra></extra>"),
                          row=1, col=col + 1)
    fig.update_xaxes(title_text="column offset Δc (patches)", row=1, col=1)
    fig.update_xaxes(title_text="row offset Δr (patches)", row=1, col=2)
    fig.update_yaxes(title_text="mean cosine similarity", row=1, col=1)
    fig = _style(fig, title, 420, "a 2-D-aware embedding falls off smoothly along both rows and columns")
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=-0.3, x=0))
    return fig
