"""The Attention page's per-head flip-book: each head's attention of the prefix (CLS) token over the image, one page
per layer, drawn once per image and display choice and switched in the browser, so a move of the Layer slider
costs no rerun (issue 15).

A page holds what the plotly grid of `figures.head_maps` drew: one overlay per head ("head 0", ...) on a colour
scale shared by the layer's heads (min → max, or 0 → max on the absolute scale), and a colour bar beside the panels
with uniform attention (1/N) marked. Its title names the layer, what the colours mean and their range, and which
heads are near uniform, so what is written describes what is shown. There is no hover; the .npy download holds the
values. The PNG download holds every layer (it cannot know which page the browser shows), each with its colour bar.
"""

from __future__ import annotations

import html
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from vizcore.analysis import attention
from vizcore.errors import InputError
from vizcore.export import picture, render
from vizcore.figures.attention import color_range
from vizcore.ui import flipbook as flip

HEAD_PX = 192  # longest side of one head's picture (about as wide as it is drawn at 4 per row): small inputs
# enlarged by a whole factor (crisp), large ones shrunk; more pixels would only cost encoding time on every upload
BAR_PX = 200  # height of the colour bar's ramp (drawn beside the panels at its own size)
COLS = 4  # heads per row, as the plotly grid had them
SIDE = 240  # largest width of one head's picture on screen, CSS pixels
LABEL = "Layer"
BIG_BOOK = 32  # layers x heads above which the every-layer download draws each head at HEAD_PX, as on screen
SCALE_TEXT = {"map": "colour scale shared by all heads (min → max)",
              "absolute": "colour scale from 0 to the largest value, shared by all heads"}


def layer_grids(maps: attention.AttentionMaps) -> np.ndarray:
    """The prefix (CLS) token's attention over the patches at every layer and head: (L, H, gh, gw) float32."""
    return np.stack([attention.cls_maps(maps, layer)[0].numpy() for layer in range(maps.num_layers)])


def head_range(grids, scale: str) -> tuple[float, float]:
    """(lo, hi) of one layer's shared colour scale over its heads (H, gh, gw): "map" = min → max, "absolute" = 0 →
    max (as `figures.head_maps` with scale "figure" / "absolute")."""
    return color_range(grids, "absolute" if scale == "absolute" else "map")


def near_uniform(names: list[str], grids, level: float, scale: str = "map") -> str:
    """A sentence naming which of the maps (n, gh, gw) lie within `attention.NEAR_UNIFORM` of uniform attention
    (`level` = 1/N) and the range of their values, with what the colour `scale` on screen does to them; "" when
    none does."""
    flat = [(n, g) for n, g in zip(names, grids) if attention.deviation_from_uniform(g, level) < attention.NEAR_UNIFORM]
    if not flat:
        return ""
    values = np.concatenate([np.asarray(g, dtype=np.float64).ravel() for _, g in flat])
    dev = max(attention.deviation_from_uniform(g, level) for _, g in flat)
    who = (flat[0][0].capitalize() + " is" if len(flat) == 1 else
           f"{len(flat)} of {len(names)} maps are" if len(flat) > 3 else ", ".join(n for n, _ in flat) + " are")
    return (f"{who} within {dev:.0%} of uniform attention: every patch gets between {values.min():.3g} and "
            f"{values.max():.3g}, against 1/{round(1 / level):,} = {level:.3g} for uniform attention. "
            + ("On this absolute scale (from 0) they look as flat as they are." if scale == "absolute" else
               "Stretched colours make differences this small look like structure; the absolute scale shows how "
               "flat it is."))


def base_image(image) -> np.ndarray:
    """The image under every head's map, about HEAD_PX on its longest side: uint8 (h, w, 3)."""
    rgb = render.as_uint8(image)
    h, w = rgb.shape[:2]
    if max(h, w) <= HEAD_PX:
        k = HEAD_PX // max(h, w)
        return np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)  # the pixels the model saw, crisp
    k = HEAD_PX / max(h, w)
    return np.asarray(Image.fromarray(rgb).resize((max(1, round(w * k)), max(1, round(h * k))),
                                                  Image.Resampling.LANCZOS))


def scale_line(scale: str, lo: float, hi: float, uniform: float) -> str:
    """What one page's colours mean (also a line of the download, under its layer's title)."""
    return f"{SCALE_TEXT[scale]}: {lo:.3g} to {hi:.3g} · uniform attention 1/{round(1 / uniform):,} = {uniform:.3g}"


def head_book(image, grids, *, query: str, colorscale: str, opacity: float, interpolation: str, scale: str,
              uniform: float) -> dict:
    """The flip-book of every layer's heads.

    Args:
        image: (C, H, W) in [0, 1] or uint8 (H, W, 3): exactly what the model saw.
        grids: (L, H, gh, gw) attention of the prefix query over the patches, e.g. `layer_grids(maps)`.
        query: who is looking ("CLS", or "Mean-query" for models without one), for titles.
        scale: "map" (each layer's heads share min → max) or "absolute" (0 → max).
        uniform: the value every patch gets from uniform attention (1/N), marked on the colour bar.

    Raises:
        InputError: unknown colour scale, interpolation or scale.
    """
    if scale not in SCALE_TEXT:
        raise InputError(f"Unknown scale '{scale}'. Use one of {', '.join(SCALE_TEXT)}.")
    base = base_image(image)
    names = [f"head {h}" for h in range(grids.shape[1])]
    ranges = [head_range(heads, scale) for heads in grids]
    pictures = []  # every layer's heads, then its colour bar: uint8 (h, w, 3) each
    for heads, (lo, hi) in zip(grids, ranges):
        pictures += list(render.overlays(base, heads, opacity=opacity, colorscale=colorscale,
                                         interpolation=interpolation, lo=lo, hi=hi))  # (H, h, w, 3)
        pictures.append(picture.colorbar(colorscale, lo, hi, BAR_PX, uniform, label=f"{query} attention"))
    with ThreadPoolExecutor(2) as pool:  # zlib lets go of the GIL: two pictures encode at once on two cores
        pngs = list(pool.map(flip.png, pictures))
    pages, per = [], len(names) + 1
    for layer, (heads, (lo, hi)) in enumerate(zip(grids, ranges)):
        note = near_uniform(names, heads, uniform, scale)
        sub = scale_line(scale, lo, hi, uniform) + (f"<br>{html.escape(note)}" if note else "")
        own = pngs[layer * per:(layer + 1) * per]
        pages.append(flip.Page(str(layer), f"{html.escape(query)} attention per head, layer {layer}<small>{sub}"
                               "</small>", own[:-1], legend=own[-1]))
    return flip.book(pages, panels=names, label=LABEL, side=SIDE, columns=min(COLS, len(names)))


def every_layer_picture(image, grids, *, query: str, colorscale: str, opacity: float, interpolation: str,
                        scale: str, uniform: float, lines: list[str]) -> np.ndarray:
    """Every page of the flip-book in one picture, a band per layer (its heads, its colour bar, its scale line) under
    a header with `lines`: uint8 (H, W, 3)."""
    names = [f"head {h}" for h in range(grids.shape[1])]
    big_book = grids.shape[0] * grids.shape[1] > BIG_BOOK  # a ViT-B's 144 panels at 448 px took 24 s to draw, encode
    if big_book:  # each head as the flip-book shows it, about HEAD_PX (a 518-px DINOv2 input made a 33-Mpx picture)
        image = base_image(image)
    bands = []
    for layer, heads in enumerate(grids):
        lo, hi = head_range(heads, scale)
        note = near_uniform(names, heads, uniform, scale)  # the same words as the page on screen
        bands.append(picture.attention_picture(
            image, heads, title=f"layer {layer}", lines=[scale_line(scale, lo, hi, uniform), *([note] if note else [])],
            names=names, colorscale=colorscale, opacity=opacity, interpolation=interpolation, lo=lo, hi=hi,
            uniform=uniform, cols=min(len(names), max(COLS, math.ceil(len(names) / 3))),
            bar_label=f"{query} attention", panel_px=HEAD_PX if big_book else None))
    return picture.titled(np.concatenate(bands, axis=0), every_layer_title(query), lines)


def every_layer_title(query: str) -> str:
    return f"{query} attention per head, every layer"
