"""Plotly figures for attention analyses: one function per visual, data in, `go.Figure` out (never shown).

Inputs are plain arrays or tensors for ONE image (index the batch first), never models, so pages, the CLI and
notebooks draw the same pictures. Images are sent as PNG data URIs and attention as the raw patch grid
(gh, gw): "bilinear" is plotly's ``zsmooth="best"`` (the same bilinear, align_corners=False, as
`render.upsample`, done in the browser), so a figure stays small and hovering gives the exact patch value.
"""

from __future__ import annotations

import html
import math

import numpy as np
import plotly.graph_objects as go

from vizcore.errors import InputError
from vizcore.export import render
from vizcore.figures._common import (
    _HEAD_SCALES,
    _HOVER,
    IMAGE_SIDE,
    PANEL_HEIGHT,
    PANEL_SIDE,
    SCALES,
    _array,
    _colorbar,
    _figure,
    _grid_layout,
    _heatmap,
    _image_axes,
    _image_axes_layout,
    _image_trace,
    _panels,
    _panels_layout,
    _style,
    _uniform_colorbar,
)


def color_range(values, scale: str) -> tuple[float, float]:
    """(low, high) of the colour scale for `values`: "map" = min → max, "absolute" = 0 → max."""
    if scale not in SCALES:
        raise InputError(f"Unknown scale '{scale}'. Use one of {', '.join(SCALES)}.")
    v = render.as_array(values).astype(np.float64)
    lo, hi = (float(np.nanmin(v)), float(np.nanmax(v))) if v.size else (0.0, 1.0)
    if scale == "absolute":
        lo = min(0.0, lo)
    return lo, hi if hi > lo else lo + 1e-12


def attention_overlay(image, grid, *, title: str, opacity: float = 0.6, colorscale: str = "Inferno",
                      interpolation: str = "bilinear", patch_size: tuple[int, int] | None = None,
                      highlight: tuple[int, int] | None = None, pickable: bool = False, scale: str = "map",
                      uniform: float | None = None, subtitle: str = "") -> go.Figure:
    """An attention map over the image it was computed on, with a colour bar; hover gives patch and value.

    With `pickable`, a near-invisible marker sits on each patch centre so a click selects that patch
    (Streamlit reports selections on scatter traces only); its `customdata` is (row, col).

    Args:
        image: (C, H, W) in [0, 1] or uint8 (H, W, 3): exactly what the model saw, drawn as given (the app passes
            `render.grey` of it unless the user asks for colour, so the map's hues stay the bar's).
        grid: (gh, gw) attention over the patches.
        patch_size: (ph, pw) pixels per patch; the map then covers gh*ph x gw*pw pixels (else the whole image).
        highlight: (row, col) of a patch to outline, e.g. the query patch.
        scale: "map" (colours from the map's min to its max) or "absolute" (from 0 to its max: a flat map looks flat).
        uniform: the value every patch would get from uniform attention (1/N), marked on the colour bar.
    """
    rgb = render.as_uint8(image)  # (H, W, 3)
    raw = _array(grid, 2, "a (gh, gw) grid")
    gh, gw = raw.shape
    ph, pw = patch_size or (rgb.shape[0] / gh, rgb.shape[1] / gw)
    lo, hi = color_range(raw, scale)
    data = [_image_trace(rgb, IMAGE_SIDE),
            _heatmap(raw, (gh * ph, gw * pw), interpolation, opacity=opacity, name="attention",
                     colorscale=render.check_colorscale(colorscale), zmin=lo, zmax=hi,
                     colorbar=_uniform_colorbar("attention", lo, hi, uniform))]
    if pickable:
        data.append(_patch_picker(raw, ph, pw))
    layout = _image_axes_layout(_grid_layout(1, 1), rgb.shape[:2])
    if highlight is not None:
        r, c = highlight
        if not (0 <= r < gh and 0 <= c < gw):
            raise InputError(f"Patch {highlight} is outside the {gh} x {gw} grid.")
        layout["shapes"] = [dict(line=dict(color=color, width=width), type="rect", x0=c * pw - 0.5,
                                 x1=(c + 1) * pw - 0.5, y0=r * ph - 0.5, y1=(r + 1) * ph - 0.5)
                            for color, width in (("black", 5), ("white", 2))]  # visible on any colour scale
    return _figure(data, layout, title, 540 if subtitle else 520, subtitle or SCALES[scale])


def _patch_picker(raw: np.ndarray, ph: float, pw: float) -> go.Scatter:
    rows, cols = np.indices(raw.shape)
    return go.Scatter(
        x=((cols + 0.5) * pw - 0.5).ravel(), y=((rows + 0.5) * ph - 0.5).ravel(), mode="markers",
        marker=dict(size=14, color="rgba(255,255,255,0.02)", symbol="square"), showlegend=False, name="patch",
        customdata=np.stack([rows.ravel(), cols.ravel(), raw.ravel()], axis=-1), hovertemplate=_HOVER,
    )


def head_maps(image, maps, *, title: str, layer: int, colorscale: str = "Inferno", opacity: float = 0.6,
              interpolation: str = "bilinear", cols: int = 4, scale: str = "figure",
              uniform: float | None = None) -> go.Figure:
    """One attention overlay per head of one layer, in a grid of panels "head 0", "head 1", ...

    Args:
        image: (C, H, W) in [0, 1] or uint8 (H, W, 3).
        maps: (H, gh, gw) per-head attention over the patches, e.g. `attention.cls_maps(maps, layer)[0]`.
        scale: "figure" (one colour scale, min → max over all heads: faint heads look faint), "absolute" (one
            scale from 0: a flat head looks flat) or "head" (each head min-max scaled to show its pattern); the
            subtitle says which.
        uniform: the value every patch would get from uniform attention (1/N), marked on the colour bar.
    """
    if scale not in _HEAD_SCALES:
        raise InputError(f"Unknown scale '{scale}'. Use one of {', '.join(_HEAD_SCALES)}.")
    rgb = render.as_uint8(image)
    grids = _array(maps, 3, "maps of shape (heads, gh, gw)")
    shown = render.normalize(grids, axis=(-2, -1)) if scale == "head" else grids
    fig, cols = _panels(len(grids), cols, [f"head {h}" for h in range(len(grids))])
    picture = _image_trace(rgb, PANEL_SIDE)  # the same image under every head: encoded once
    for h, grid in enumerate(grids):
        row, col = divmod(h, cols)
        fig.add_trace(go.Image(picture), row=row + 1, col=col + 1)
        fig.add_trace(_heatmap(grid, rgb.shape[:2], interpolation, shown=shown[h], opacity=opacity,
                               coloraxis="coloraxis", name=f"head {h}"), row=row + 1, col=col + 1)
    lo, hi = color_range(shown, "absolute" if scale == "absolute" else "map")
    bar = (_colorbar("attention<br>(head min→max)") if scale == "head"
           else _uniform_colorbar("attention", lo, hi, uniform))
    fig.update_layout(coloraxis=dict(colorscale=render.check_colorscale(colorscale), cmin=lo, cmax=hi, colorbar=bar))
    _image_axes(fig, rgb.shape[:2])
    rows = math.ceil(len(grids) / cols)
    return _style(fig, title, PANEL_HEIGHT * rows + 120, f"layer {layer} · {_HEAD_SCALES[scale]}")


def _mosaic(grids: np.ndarray, stretch: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(L, H, gh, gw) -> tiles (min-max scaled with `stretch`) laid out with one NaN cell between them, plus labels.

    Returns:
        z (L*(gh+1)-1, H*(gw+1)-1) float32 and customdata (..., 4) of (layer, head, row, col) per cell.
    """
    L, H, gh, gw = grids.shape
    values = render.normalize(grids, axis=(-2, -1)) if stretch else grids.astype(np.float32)
    tiles = np.pad(values, ((0, 0), (0, 0), (0, 1), (0, 1)), constant_values=np.nan)  # (L, H, gh+1, gw+1)
    z = tiles.transpose(0, 2, 1, 3).reshape(L * (gh + 1), H * (gw + 1))[:-1, :-1]
    labels = np.moveaxis(np.indices(tiles.shape), 0, -1)  # (L, H, gh+1, gw+1, 4)
    labels = labels.transpose(0, 2, 1, 3, 4).reshape(L * (gh + 1), H * (gw + 1), 4)[:-1, :-1]
    return z, labels.astype(np.uint8 if max(grids.shape) < 256 else np.uint16)


def layers_heads_overview(maps, *, title: str, colorscale: str = "Inferno", scale: str = "map",
                          uniform: float | None = None) -> go.Figure:
    """Every layer's (rows) and head's (columns) map as one mosaic of small tiles.

    One heatmap of the raw patch grids keeps 12 layers x 12 heads (ViT-B) light and readable.

    Args:
        maps: (L, H, gh, gw) attention over the patches, e.g. CLS maps of every layer.
        scale: "map" (each tile min-max scaled: every head's pattern shows, however faint) or "absolute" (one
            scale from 0 to the largest value for all tiles, with `uniform` (1/N) marked on the colour bar).
    """
    grids = _array(maps, 4, "maps of shape (layers, heads, gh, gw)")
    L, H, gh, gw = grids.shape
    z, labels = _mosaic(grids, stretch=scale == "map")
    lo, hi = (0.0, 1.0) if scale == "map" else color_range(grids, "absolute")
    bar = _colorbar("attention<br>(tile min→max)") if scale == "map" else _uniform_colorbar("attention", lo, hi,
                                                                                            uniform)
    value = "scaled %{z:.2f}" if scale == "map" else "attention %{z:.4g}"
    heat = go.Heatmap(
        z=z, customdata=labels, colorscale=render.check_colorscale(colorscale), zmin=lo, zmax=hi,
        hoverongaps=False, colorbar=bar,
        hovertemplate="layer %{customdata[0]}, head %{customdata[1]}<br>patch (%{customdata[2]}, "
                      f"%{{customdata[3]}})<br>{value}<extra></extra>")
    axis = dict(showgrid=False, zeroline=False, ticks="", constrain="domain", ticklabelstandoff=4)
    layout = dict(xaxis=dict(tickvals=[h * (gw + 1) + (gw - 1) / 2 for h in range(H)], side="top",
                             ticktext=[f"head {h}" for h in range(H)], **axis),
                  yaxis=dict(tickvals=[i * (gh + 1) + (gh - 1) / 2 for i in range(L)], autorange="reversed",
                             ticktext=[f"layer {i}" for i in range(L)], scaleanchor="x", **axis))
    tile = min(100, max(40, 900 // max(L, H)))  # figure pixels per tile
    how = "each tile min-max scaled" if scale == "map" else "one colour scale from 0 for every tile"
    fig = _figure([heat], layout, title, L * tile + 150, f"rows: layers · columns: heads · {how}")
    fig.layout.margin.t = 120
    return fig


def mass_masks(image, masks, *, mass: float, title: str, cols: int = 4) -> go.Figure:
    """Per head, the image with only the fewest patches that hold `mass` of its attention left bright (DINO).

    Args:
        image: (C, H, W) in [0, 1] or uint8 (H, W, 3).
        masks: (H, gh, gw) bool, e.g. `attention.mass_mask(cls_maps(maps, layer)[0], mass)`.
    """
    rgb = render.as_uint8(image)
    kept = _array(masks, 3, "masks of shape (heads, gh, gw)").astype(bool)
    counts = kept.reshape(len(kept), -1).sum(axis=1)  # (H,)
    total = kept[0].size
    layout, refs, cols = _panels_layout(len(kept), cols, [f"head {h}: {n} patches ({n / total:.0%})"
                                                          for h, n in enumerate(counts)])
    data = [_image_trace(render.mask_overlay(rgb, mask), PANEL_SIDE).update(refs[h]) for h, mask in enumerate(kept)]
    _image_axes_layout(layout, rgb.shape[:2])
    for note in layout.get("annotations", []):
        note["font"] = dict(size=13)
    even = math.ceil(mass * total - 1e-9)  # patches uniform attention needs for the same mass
    return _figure(data, layout, title, PANEL_HEIGHT * math.ceil(len(kept) / cols) + 120,
                   f"kept: the fewest patches holding {mass:.0%} of the head's attention (the rest darkened); "
                   f"uniform attention would need {even} of {total} ({even / total:.0%})")


def prefix_share_heatmap(share, prefix_names, *, title: str, colorscale: str = "Inferno",
                         uniform: float | None = None) -> go.Figure:
    """For each prefix token (CLS, registers, ...) a layer x head heatmap of the share of attention it gets.

    Args:
        share: (L, H, p) average share of attention (0..1), e.g. `attention.prefix_share(maps)[0]`.
        prefix_names: p names, e.g. ("cls", "reg1", ...).
        uniform: the share every token gets from uniform attention (1/N), marked on the colour bar.
    """
    s = _array(share, 3, "share of shape (layers, heads, prefix tokens)")
    names = list(prefix_names)
    if len(names) != s.shape[-1]:
        raise InputError(f"Got {len(names)} prefix names for {s.shape[-1]} prefix tokens; pass one name each.")
    layout = _grid_layout(1, len(names), names, shared_yaxes=True, horizontal_spacing=0.03)
    data = [go.Heatmap(
        z=s[..., j].astype(np.float32), coloraxis="coloraxis", name=name, xaxis=f"x{j + 1 if j else ''}",
        yaxis=f"y{j + 1 if j else ''}",
        hovertemplate=f"layer %{{y}}, head %{{x}}<br>%{{z:.1%}} of attention goes to {name}<extra></extra>")
        for j, name in enumerate(names)]
    for axis_name, axis in layout.items():
        if axis_name.startswith("xaxis"):
            axis.update(title=dict(text="head"), showgrid=False, zeroline=False, tickangle=0,
                        dtick=math.ceil(s.shape[1] / 6))
        elif axis_name.startswith("yaxis"):
            axis.update(showgrid=False, zeroline=False, dtick=math.ceil(s.shape[0] / 16))
    layout["yaxis"].update(title=dict(text="layer"), autorange="reversed")
    layout["coloraxis"] = dict(colorscale=render.check_colorscale(colorscale), cmin=0, cmax=1,
                               colorbar=_uniform_colorbar("share of<br>attention", 0.0, 1.0, uniform))
    even = f"; uniform attention gives every token 1/{round(1 / uniform):,} = {uniform:.1%}" if uniform else ""
    return _figure(data, layout, title, max(320, 26 * s.shape[0] + 160),
                   f"averaged over all queries; 1 = all attention{even}")


def _percent(p: float) -> str:
    """A probability as a percentage that tells small ones apart: 93.3%, 0.09%, 0.051%, <0.01%."""
    if p >= 0.01 or p == 0:
        return f"{p:.1%}"
    return f"{p * 100:.2g}%" if p >= 1e-4 else "<0.01%"


def predictions_bar(top: list[tuple[int, str, float]], *, title: str, num_classes: int | None = None) -> go.Figure:
    """Top-k class probabilities as horizontal bars, highest on top, each labelled with its class (the first of its
    synonyms; all of them on hover) and percentage.

    Args:
        top: (class index, name, probability) triples, e.g. `attention.top_predictions(logits, names)[0]`.
        num_classes: K; chance (1/K) is then drawn as a dashed line.
    """
    if not top:
        raise InputError("No predictions to draw; pass at least one (index, name, probability).")
    ranked = sorted(top, key=lambda t: -t[2])
    names = [name.split(", ")[0] for _, name, _ in ranked]  # ImageNet's "dragonfly, darning needle, ...": its first
    twice = {name for name in names if names.count(name) > 1}  # e.g. ImageNet's two "crane"s: keep both bars
    names = [f"{name} ({idx})" if name in twice else name for (idx, _, _), name in zip(ranked, names)]
    probs = [float(p) for _, _, p in ranked]
    full = [html.escape(name) for _, name, _ in ranked]  # every synonym, on hover; names are text, not markup
    # Each percentage beside its class name, not at the bar's end, where the chance line crossed it (1.3% read 1.8%).
    bar = go.Bar(x=probs, y=names, orientation="h", marker_color="#4C78A8", customdata=full,
                 hovertemplate="%{customdata}: %{x:.2%}<extra></extra>")
    labels = [f"{html.escape(name)}  <b>{html.escape(_percent(p))}</b>" for name, p in zip(names, probs)]
    layout = dict(xaxis=dict(title=dict(text="probability"), range=[0, 1]), showlegend=False,
                  yaxis=dict(title=dict(text="class"), autorange="reversed", type="category", ticklabelstandoff=4,
                             tickmode="array", tickvals=names, ticktext=labels))
    if num_classes:  # chance (1/K): a dashed line over the plot's height, labelled above the bars
        x = 1 / num_classes
        layout["shapes"] = [dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain",
                                 line=dict(color="grey", dash="dash", width=1))]
        layout["annotations"] = [dict(text=f"chance 1/{num_classes:,}", x=x, xanchor="left", xref="x", y=1,
                                      yanchor="bottom", yref="y domain", showarrow=False, font=dict(size=11))]
    return _figure([bar], layout, title, 90 + 34 * len(ranked) + (20 if num_classes else 0))
