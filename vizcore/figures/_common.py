"""Shared plumbing of vizcore's plotly figures: array checks, image traces, heatmaps, axes and styling."""

from __future__ import annotations

import base64
import copy
import math
from functools import lru_cache

import numpy as np
import pandas  # noqa: F401  plotly imports pandas lazily; a half-imported pandas breaks concurrent sessions
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from vizcore.errors import InputError
from vizcore.export import render

IMAGE_SIDE = 384  # longest side, in pixels, of an image sent for a single overlay
PANEL_SIDE = 192  # ... and for each panel of a multi-panel figure
PANEL_HEIGHT = 220  # figure pixels per row of panels
CATEGORICAL = ("#2288CC", "#AACC33", "#BB2211", "#EEAAEE", "#22CCAA", "#227744", "#CC8877", "#6644BB", "#AA2266",
               "#BB8822", "#008888", "#9999FF", "#000000", "#005555", "#EE4488", "#FF99AA", "#55AABB", "#0000FF",
               "#773333", "#880088")
"""vizcore's 20 colours for categories (classes, heads, strategies), shared by every figure that colours by category.

Chosen for clearly distinct colours at 10 classes and more (digits): every pair of the first 10 differs by at least
22 CIEDE2000 units (plotly's "Safe" palette: 15, and its 2/7 and 1/8 share a hue), still at least 11 under simulated
deuteranopia and protanopia (Machado et al. 2009), and every colour stands out from a white background. Ordered so
that any first k are as far apart as possible: colours 13-20 were added greedily from a 16-level sRGB grid, each the
candidate farthest from all before it, both as drawn solid and as the point map draws them (alpha 0.8 over white),
by the smaller of the CIEDE2000 distance and 1.6x the distance under simulated colour blindness (lightness 30-82,
chroma >= 20 and contrast >= 2:1 on white, or black). All 20 keep every pair >= 12.3 apart solid and >= 12.4 at
alpha 0.8 (>= 7.4 and >= 7.3 under simulated colour blindness: the first 12 alone reach 7.3 at alpha 0.8), where
Kelly's 20 colours of maximum contrast, tab20 and plotly's Alphabet reach 10.0, 12.1 and 11.4 solid (0.4-3.6 under
colour blindness). Beyond 20, colours repeat: vary the marker symbol too or say so."""
_HOVER = "patch (%{customdata[0]:d}, %{customdata[1]:d})<br>attention %{customdata[2]:.4g}<extra></extra>"
_HEAD_SCALES = {"figure": "colour scale shared by all heads (min → max)", "head": "each head min-max scaled",
                "absolute": "colour scale from 0 to the largest value, shared by all heads"}
SCALES = {"map": "colours stretched from the map's min to its max",
          "absolute": "colours from 0 to the largest value (absolute)"}


def _array(values, ndim: int, what: str) -> np.ndarray:
    arr = render.as_array(values)
    if arr.ndim != ndim or 0 in arr.shape:
        raise InputError(f"Expected {what} for one image; got shape {tuple(arr.shape)}. Index the batch first.")
    return arr


def _image_trace(rgb: np.ndarray, max_side: int) -> go.Image:
    """uint8 (H, W, 3) as a PNG-sourced image in pixel coordinates (shrunk to `max_side` for the wire)."""
    h, w = rgb.shape[:2]
    k = max(h, w) / max_side
    shown = rgb if k <= 1 else np.asarray(Image.fromarray(rgb).resize(
        (max(1, round(w / k)), max(1, round(h / k))), Image.Resampling.LANCZOS))
    dy, dx = h / shown.shape[0], w / shown.shape[1]
    uri = "data:image/png;base64," + base64.b64encode(render.to_png(shown, scale=1)).decode("ascii")
    return go.Image(source=uri, x0=dx / 2 - 0.5, dx=dx, y0=dy / 2 - 0.5, dy=dy, hoverinfo="skip")


def _heatmap(raw: np.ndarray, cover: tuple[int, int], interpolation: str, shown: np.ndarray | None = None,
             **kw) -> go.Heatmap:
    """Patch grid raw (gh, gw) stretched over `cover` (H, W) image pixels; hover gives patch and raw value."""
    if interpolation not in render.INTERPOLATIONS:
        raise InputError(f"Unknown interpolation '{interpolation}'. Use one of {', '.join(render.INTERPOLATIONS)}.")
    gh, gw = raw.shape
    dy, dx = cover[0] / gh, cover[1] / gw
    rows, cols = np.indices((gh, gw))
    custom = np.stack([rows, cols, raw], axis=-1).astype(np.float32)  # (gh, gw, 3)
    return go.Heatmap(z=(raw if shown is None else shown).astype(np.float32), x0=dx / 2 - 0.5, dx=dx,
                      y0=dy / 2 - 0.5, dy=dy, zsmooth="best" if interpolation == "bilinear" else False,
                      customdata=custom, hovertemplate=_HOVER, **kw)


def _colorbar(title: str) -> dict:
    # Plotly's own tick labels (as many digits as the step needs: 0.10202, 0.10204, where ".3~g" wrote 0.102 six
    # times) with powers of ten as 7e−4, not the SI 700µ.
    return dict(title=dict(text=title), thickness=14, outlinewidth=0, exponentformat="e")


def _uniform_colorbar(title: str, lo: float, hi: float, uniform: float | None) -> dict:
    """A colour bar over [lo, hi] with the uniform-attention level 1/N marked as a labelled tick.

    `uniform` is what every patch would get if attention were spread evenly (1/N); outside the range the title says
    where it lies, so a stretched near-uniform map cannot pass for structure. Ticks: `render.colorbar_ticks`, as
    the downloaded PNGs have them.
    """
    bar = _colorbar(title)
    if uniform is None or uniform <= 0:
        return bar
    ticks = render.colorbar_ticks(lo, hi, uniform)
    if not lo - 1e-12 <= uniform <= hi + 1e-12:
        where = "below" if uniform < lo else "above"
        bar["title"]["text"] = f"{title}<br>uniform 1/{round(1 / uniform):,} = {uniform:.3g}<br>lies {where} this range"
    bar.update(tickvals=[v for v, _ in ticks], ticktext=[t for _, t in ticks])
    return bar


_HIDDEN = dict(showticklabels=False, ticks="", showgrid=False, zeroline=False, constrain="domain")


def _image_axes(fig: go.Figure, hw: tuple[int, int]) -> None:
    """Every subplot: no ticks, square pixels, row 0 at the top (as images are drawn)."""
    h, w = hw
    fig.update_xaxes(range=[-0.5, w - 0.5], **_HIDDEN)
    fig.for_each_yaxis(lambda ax: ax.update(range=[h - 0.5, -0.5], scaleanchor=ax.anchor or "x", **_HIDDEN))


def _image_axes_layout(layout: dict, hw: tuple[int, int]) -> dict:
    """`_image_axes` on a layout dict (every "xaxis*" / "yaxis*" in it), in place; returns it."""
    h, w = hw
    for name, axis in layout.items():
        if name.startswith("xaxis"):
            axis.update(range=[-0.5, w - 0.5], **_HIDDEN)
        elif name.startswith("yaxis"):
            axis.update(range=[h - 0.5, -0.5], scaleanchor=axis.get("anchor") or "x", **_HIDDEN)
    return layout


def _title_layout(title: str, height: int, subtitle: str = "") -> dict:
    text = f"{title}<br><sup>{subtitle}</sup>" if subtitle else title
    return dict(title=dict(text=text, x=0.01, xanchor="left"), font=dict(size=13), height=height,
                margin=dict(l=10, r=10, t=80 if subtitle else 56, b=10))


def _style(fig: go.Figure, title: str, height: int, subtitle: str = "") -> go.Figure:
    """Title (with `subtitle` below it), height, margins and the plotly_white template; colours made screen-safe."""
    fig.update_layout(**_title_layout(title, height, subtitle))
    return _finish(fig)


def _figure(data: list, layout: dict, title: str, height: int, subtitle: str = "") -> go.Figure:
    """`_style(go.Figure(data, layout), ...)` built in one step.

    Plotly validates a figure's properties once whichever way it is built, but every later `update_*` call on a
    figure walks its whole property tree again (about 3-20 ms each here): building the finished layout as a dict
    and handing it to the constructor gives the same figure (tests/test_figures.py checks) several times faster.
    """
    return _finish(go.Figure(data=data, layout={**layout, **_title_layout(title, height, subtitle)}))


def _finish(fig: go.Figure) -> go.Figure:
    screen_safe(fig)
    _plotly_white(fig)  # after `screen_safe`, which leaves the template out (no copy of it needed)
    return fig


def _plotly_white(fig: go.Figure) -> None:
    """Give `fig` plotly's "plotly_white" template (after `screen_safe`, which leaves the template out).

    Through plotly's public setter, which copies and validates the template (about 18 ms a figure here); skipping
    that validation would need plotly's private `_validate` flag (STYLE.md: no other library's private parts)."""
    fig.update_layout(template="plotly_white")


def _safe(value):
    """(value with every string passed through `render.screen_safe`, whether anything changed)."""
    if isinstance(value, str):
        new = render.screen_safe(value)
        return new, new != value
    if isinstance(value, dict):
        pairs = {k: _safe(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(c for _, c in pairs.values())
    if isinstance(value, (list, tuple)):
        pairs = [_safe(v) for v in value]
        return [v for v, _ in pairs], any(c for _, c in pairs)
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        pairs = [_safe(v) for v in value.ravel().tolist()]
        return np.array([v for v, _ in pairs], dtype=object).reshape(value.shape), any(c for _, c in pairs)
    return value, False


def screen_safe(fig: go.Figure) -> go.Figure:
    """Move every colour Streamlit's frontend would rewrite out of its placeholder set, in place (traces and layout).

    Streamlit replaces the literal strings #000001...#000040 in a figure's JSON with its own palette, theme or not
    (inferno's first stop #000004 drew pink). Every figure passes through here (`_style`), so the browser draws the
    figure vizcore built; `render.screen_safe` says how colours move.
    """
    for trace in fig.data:
        fixed, changed = _safe({k: v for k, v in trace.to_plotly_json().items() if k != "type"})
        if changed:
            trace.update(fixed, overwrite=True)
    layout = {k: v for k, v in fig.layout.to_plotly_json().items() if k != "template"}
    fixed, changed = _safe(layout)
    if changed:
        fig.update_layout(fixed, overwrite=True)
    return fig


def _panels(n: int, cols: int, titles: list[str]) -> tuple[go.Figure, int]:
    """A (rows x cols) subplot grid for n panels; returns it and its number of columns."""
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=44 / (PANEL_HEIGHT * rows + 120))
    return fig, cols


def _panels_layout(n: int, cols: int, titles: list[str]) -> tuple[dict, list[dict], int]:
    """`_panels` as a layout dict: (layout, each panel's axis references {"xaxis": "x2", "yaxis": "y2"} in row-major
    order, columns)."""
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    layout = _grid_layout(rows, cols, titles, horizontal_spacing=0.02,
                          vertical_spacing=44 / (PANEL_HEIGHT * rows + 120))
    refs = [{"xaxis": f"x{k + 1 if k else ''}", "yaxis": f"y{k + 1 if k else ''}"} for k in range(rows * cols)]
    return layout, refs, cols


def _grid_layout(rows: int, cols: int, titles: list[str] | None = None, **kw) -> dict:
    """The layout `make_subplots(rows, cols, subplot_titles=titles, **kw)` makes (axes, domains, title annotations),
    as a new dict; traces of panel k (row-major) take axes "x{k+1}" / "y{k+1}" ("x" / "y" for the first)."""
    titles = list(titles or [])
    layout = copy.deepcopy(_grid_skeleton(rows, cols, len(titles), tuple(sorted(kw.items()))))
    notes = [dict(a, text=t) for a, t in zip(layout.pop("annotations", []), titles) if t]
    return {**layout, "annotations": notes} if notes else layout


@lru_cache(maxsize=64)
def _grid_skeleton(rows: int, cols: int, n_titles: int, kw: tuple) -> dict:
    """make_subplots' layout (template left out) with placeholder titles: one annotation per title, in order."""
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"t{i}" for i in range(n_titles)] or None, **dict(kw))
    return {k: v for k, v in fig.layout.to_plotly_json().items() if k != "template"}
