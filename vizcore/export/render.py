"""Attention maps as pixels: upsampling, colour maps, overlays, DINO-style masks and PNG bytes.

Everything here is numpy/torch/PIL and returns arrays or bytes, so downloads, the CLI and notebooks get the
same pictures without a browser. Only ``plotly.colors`` is used, to read the named colour scales (from its colour
modules, not through plotly's validators, which import narwhals: about 0.35 s); figures live in ``vizcore.figures``.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from plotly.colors import cyclical, diverging, make_colorscale, sample_colorscale, sequential

from vizcore.errors import InputError

COLORSCALES = ("Inferno", "Viridis", "Magma", "Plasma", "Cividis", "Jet")
"""Colour maps offered in the app; Viridis and Cividis stay readable with colour-vision deficiencies."""

INTERPOLATIONS = ("bilinear", "nearest")

# Streamlit's frontend replaces these literal colours in every plotly spec, with or without its theme (it uses them
# as placeholders for its own palette): inferno's and magma's first stop, #000004, would draw pink. See DESIGN
# "Known traps". `screen_safe` moves each to the colour one step redder, #010004: invisible, never rewritten.
_PLACEHOLDER = re.compile(r"#0000(?:0[1-9]|[1-3][0-9]|40)")
MIN_PNG_SIDE = 256


def as_array(values) -> np.ndarray:
    """A numpy view of an array-like or (any-device, any-dtype) tensor; bool and uint8 stay as they are."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu()
        if values.is_floating_point():
            values = values.float()
        return values.numpy()
    return np.asarray(values)


def as_uint8(image) -> np.ndarray:
    """An image as uint8 RGB (H, W, 3).

    Args:
        image: (C, H, W) floats in [0, 1] (what the model saw; C is 1, 3 or 4), (H, W, C) uint8, or (H, W)
            grayscale; numpy array or tensor. Alpha is dropped, gray is repeated to RGB.
    """
    arr = as_array(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and (arr.dtype != np.uint8 or arr.shape[-1] not in (1, 3, 4)):
        arr = arr.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if arr.ndim == 2:
        arr = arr[..., None]  # (H, W, 1)
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4) or 0 in arr.shape:
        raise InputError(f"Expected an image of shape (C, H, W) or (H, W, C) with 1, 3 or 4 channels; got "
                         f"{tuple(arr.shape)}. Pass one image, not a batch.")
    arr = np.repeat(arr, 3, axis=-1) if arr.shape[-1] == 1 else arr[..., :3]  # (H, W, 3)
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def grey(image) -> np.ndarray:
    """An image as its luminance (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B) in three equal channels: uint8 (H, W, 3).

    Under a semi-transparent colour map the grey image brings no hue of its own: every pixel keeps the hue of its
    colour on the bar, and the image only makes it lighter, darker or paler (yellow at 60% over a red object draws
    orange, a colour the bar may lack). Objects that differ from their background only in colour fade, though.

    Args:
        image: see `as_uint8`.
    """
    y = np.rint(as_uint8(image).astype(np.float64) @ [0.299, 0.587, 0.114]).astype(np.uint8)  # (H, W)
    return np.repeat(y[..., None], 3, axis=-1)


def _grid2d(grid, what: str = "grid") -> np.ndarray:
    arr = as_array(grid)
    if arr.ndim != 2 or 0 in arr.shape:
        raise InputError(f"Expected a 2-D {what} (gh, gw) for one image; got shape {tuple(arr.shape)}.")
    return arr


def upsample(grid, size: tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Stretch a patch grid (gh, gw) to pixels (H, W), float32.

    "nearest" paints each patch as one solid block (exact when H = gh * patch height, as for the image the
    model saw; otherwise block edges are rounded); "bilinear" is smooth (align_corners=False, so values stay
    within the grid's range).
    """
    return _upsample(_grid2d(grid)[None], size, interpolation)[0]


def _upsample(grids: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """`upsample` of each grid of (n, gh, gw) at once: (n, H, W) float32, each exactly as alone."""
    if interpolation not in INTERPOLATIONS:
        raise InputError(f"Unknown interpolation '{interpolation}'. Use one of {', '.join(INTERPOLATIONS)}.")
    x = torch.from_numpy(np.asarray(grids, dtype=np.float32))[:, None]  # (n, 1, gh, gw)
    size = (int(size[0]), int(size[1]))
    if interpolation == "nearest":
        out = F.interpolate(x, size=size, mode="nearest-exact")
    else:
        out = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return out[:, 0].numpy()  # (n, H, W)


def screen_safe(text: str) -> str:
    """`text` with every colour Streamlit would rewrite moved out of its placeholder set.

    A whole colour ("#000004") becomes the next one up in red ("#010004"); inside longer text (a hover template,
    a title) a zero-width word joiner after the "#" keeps the text as it reads and out of the rewrite.
    """
    if _PLACEHOLDER.fullmatch(text):
        return "#01" + text[3:]
    return _PLACEHOLDER.sub(lambda m: "#\u2060" + m.group(0)[1:], text) if "#0000" in text else text


@lru_cache(maxsize=1)
def _named_scales() -> dict[str, list[str]]:
    """plotly's named colour scales, lower-case name -> colours.

    The table `plotly.colors.get_colorscale` reads (its `ColorscaleValidator.named_colorscales`: the lists in
    `sequential`, `diverging` and `cyclical`, in that order, minus `_r` and private names), built here without
    importing the validators. tests/test_render.py checks every name against `get_colorscale`.
    """
    table = {}
    for module in (sequential, diverging, cyclical):
        for name, colours in sorted(vars(module).items()):
            if isinstance(colours, list) and not name.endswith("_r") and not name.startswith("_"):
                table[name.lower()] = colours
    return table


@lru_cache(maxsize=32)
def colorscale_stops(name: str) -> tuple[tuple[float, str], ...]:
    """The stops ((position, "#rrggbb"), ...) of a named plotly colour scale, screen-safe (see `screen_safe`).

    Case-insensitive; a "_r" suffix reverses the scale (as in plotly). Figures and downloads both colour through
    these stops, so a PNG has exactly the colours on screen.
    """
    key = name.lower() if isinstance(name, str) else ""
    reverse = key.endswith("_r")
    colours = _named_scales().get(key[:-2] if reverse else key)
    if colours is None:
        raise InputError(f"Unknown colour scale '{name}'. Use a plotly name such as {', '.join(COLORSCALES)}.")
    scale = make_colorscale(colours[::-1] if reverse else colours)
    return tuple((float(pos), screen_safe(colour)) for pos, colour in scale)


@lru_cache(maxsize=32)
def _lut(colorscale_name: str) -> np.ndarray:
    """256-entry lookup table (256, 3) uint8 of a named plotly colour scale (its screen-safe stops)."""
    scale = [list(stop) for stop in colorscale_stops(colorscale_name)]
    rgb = sample_colorscale(scale, np.linspace(0.0, 1.0, 256).tolist(), colortype="tuple")
    lut = np.clip(np.rint(np.asarray(rgb) * 255.0), 0, 255).astype(np.uint8)  # (256, 3)
    lut.setflags(write=False)
    return lut


def normalize(values, axis: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Min-max scale to [0, 1] (float32), over everything or per slice along `axis` (e.g. (-2, -1) per map).

    Constant slices become 0 (not NaN); NaN and inf become 0.
    """
    v = as_array(values).astype(np.float32)
    v = np.where(np.isfinite(v), v, np.nan)
    with warnings.catch_warnings():  # all-NaN slices: handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanmin(v, axis=axis, keepdims=True)
        span = np.nanmax(v, axis=axis, keepdims=True) - lo
    ok = np.isfinite(span) & (span > 0)
    out = np.where(ok, (v - lo) / np.where(ok, span, 1.0), 0.0)
    return np.nan_to_num(out, nan=0.0).astype(np.float32)


def check_colorscale(name: str) -> list[list]:
    """The screen-safe stops of a colour scale, as plotly takes them; InputError naming the offered ones if unknown."""
    return [list(stop) for stop in colorscale_stops(name)]


def colorize(values, colorscale: str = "Inferno", *, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Map values (H, W) through a colour scale: uint8 (H, W, 3).

    By default min-max scaled (the minimum gets the scale's first colour, the maximum its last); with `lo` and `hi`
    the colour range is fixed, as a figure's zmin / zmax fix it (values outside are clipped to the ends).
    """
    return _lut(colorscale)[_color_index(values, lo, hi)]  # (H, W, 3)


def _color_index(values, lo: float | None, hi: float | None) -> np.ndarray:
    """Each value's row (0..255) of a colour scale's lookup table, as `colorize` picks it: intp, shaped as values."""
    if lo is None or hi is None:
        scaled = normalize(values)
    else:
        scaled = as_array(values).astype(np.float64)  # a new array, scaled in place (the arithmetic of
        np.nan_to_num(scaled, copy=False, nan=lo)  # np.clip((v - lo) / span, 0, 1), without its temporaries)
        scaled -= lo
        scaled /= hi - lo if hi > lo else 1.0
        np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= 255.0
    return np.rint(scaled, out=scaled).astype(np.intp)  # in 0..255


def colorbar_ticks(lo: float, hi: float, uniform: float | None = None, n: int = 5) -> list[tuple[float, str]]:
    """(value, label) ticks of a colour bar over [lo, hi]: about `n` round values (steps of 1, 2, 2.5 or 5 times a
    power of ten) and, when it lies in range, the uniform-attention level `uniform` (1/N) labelled "uniform 1/N".

    Labels carry as many significant digits as the step needs (3 to 12), so a narrow range such as 0.10200 to
    0.10210 reads 0.102, 0.102025, ... 0.1021 rather than 0.102 five times. A range too narrow for 12 digits (or not
    finite) gets no round ticks. Figures and downloaded PNGs both label their colour bars with these.
    """
    ticks: list[tuple[float, str]] = []
    raw = (hi - lo) / max(1, n - 1) if math.isfinite(lo) and math.isfinite(hi) and hi > lo else 0.0
    if math.isfinite(raw) and raw > 1e-300 and raw > 1e-12 * max(abs(lo), abs(hi)):  # else no ticks but `uniform`
        mag = 10.0 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
        start = math.ceil(lo / step - 1e-9) * step
        digits = min(12, max(3, math.ceil(math.log10(max(abs(lo), abs(hi)) / step)) + 2))
        for v in (start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)):
            if not ticks or f"{v:.{digits}g}" != ticks[-1][1]:
                ticks.append((v, f"{v:.{digits}g}"))
    if uniform is not None and uniform > 0 and lo - 1e-12 <= uniform <= hi + 1e-12:
        ticks = [t for t in ticks if abs(t[0] - uniform) > 0.08 * (hi - lo)]
        ticks.append((uniform, f"uniform 1/{round(1 / uniform):,}"))
    return ticks


def overlay(image, grid, *, opacity: float = 0.6, colorscale: str = "Inferno", interpolation: str = "bilinear",
            lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Alpha-blend a colourised attention grid (gh, gw) over an image: uint8 (H, W, 3).

    Args:
        image: see `as_uint8`, drawn as given: pass `grey(image)` to keep every pixel at its bar colour's hue.
        grid: (gh, gw) attention over the patches; stretched over the whole image.
        opacity: 0 returns the image, 1 the colourised map.
        lo, hi: the colour range (default: the grid's min and max), as the figure on screen has it.
    """
    return overlays(image, _grid2d(grid)[None], opacity=opacity, colorscale=colorscale, interpolation=interpolation,
                    lo=lo, hi=hi)[0]


def overlays(image, grids, *, opacity: float = 0.6, colorscale: str = "Inferno", interpolation: str = "bilinear",
             lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """`overlay` of each map of grids (n, gh, gw) over the same image, computed at once: uint8 (n, H, W, 3).

    With `lo` and `hi` every map shares that colour range; without, each map is min-max scaled on its own.
    """
    if not 0.0 <= opacity <= 1.0:
        raise InputError(f"opacity must be in [0, 1], got {opacity}.")
    maps = as_array(grids)
    if maps.ndim != 3 or 0 in maps.shape:
        raise InputError(f"Expected maps shaped (n, gh, gw); got {tuple(maps.shape)}.")
    rgb = as_uint8(image)  # (H, W, 3)
    up = _upsample(maps, rgb.shape[:2], interpolation)  # (n, H, W)
    shared = lo is not None and hi is not None  # else each map min-max scaled on its own
    idx = _color_index(up, lo, hi) if shared else np.stack([_color_index(u, None, None) for u in up])  # (n, H, W)
    ink = opacity * _lut(colorscale).astype(np.float32)  # (256, 3): the map's share of each colour
    out = (1.0 - opacity) * rgb.astype(np.float32) + ink[idx]  # (n, H, W, 3), as blending the colourised map
    np.rint(out, out=out)
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def mask_overlay(image, mask, *, darken: float = 0.75) -> np.ndarray:
    """DINO-style mask: keep the patches inside `mask` (gh, gw) bool, darken the rest: uint8 (H, W, 3).

    Args:
        darken: how much of the brightness to remove outside the mask (0 = none, 1 = black).
    """
    if not 0.0 <= darken <= 1.0:
        raise InputError(f"darken must be in [0, 1], got {darken}.")
    rgb = as_uint8(image)  # (H, W, 3)
    inside = upsample(_grid2d(mask, "mask").astype(np.float32), rgb.shape[:2], "nearest") > 0.5  # (H, W)
    dark = np.rint(rgb.astype(np.float32) * (1.0 - darken)).astype(np.uint8)
    return np.where(inside[..., None], rgb, dark)


def png_scale(shape: tuple[int, ...], min_side: int = MIN_PNG_SIDE) -> int:
    """Smallest integer factor that brings the short side of an (H, W, ...) image to at least `min_side`."""
    return max(1, math.ceil(min_side / max(1, min(shape[0], shape[1]))))


def to_png(array, *, scale: int | None = None, compress_level: int = 6) -> bytes:
    """Encode uint8 (H, W, 3) RGB or (H, W) gray as PNG bytes.

    Args:
        scale: integer enlargement with nearest neighbour (pixels stay crisp blocks). None picks the smallest
            factor that makes the short side at least 256 px (our bundled models see 64 x 64 images); use 1 to
            keep the size.
        compress_level: zlib level 0-9 (the same pixels either way; 1 encodes about twice as fast, a quarter larger).
    """
    arr = as_array(array)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] != 3) or arr.dtype != np.uint8:
        raise InputError(f"to_png expects uint8 (H, W, 3) or (H, W); got {arr.dtype} {tuple(arr.shape)}. "
                         "Convert images with render.as_uint8 first.")
    k = png_scale(arr.shape) if scale is None else int(scale)
    if k < 1:
        raise InputError(f"scale must be a positive integer, got {scale}.")
    if k > 1:
        arr = np.repeat(np.repeat(arr, k, axis=0), k, axis=1)  # (k H, k W, ...)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def labelled_strip(images, titles, *, side: int = 256, gap: int = 8) -> np.ndarray:
    """Images side by side, each enlarged to `side` px (nearest: patches stay crisp) under its title: uint8 RGB.

    For downloads that need no browser (plotly's own PNG export needs kaleido). Titles use PIL's built-in font.
    """
    from PIL import ImageDraw, ImageFont

    tiles = [as_uint8(im) for im in images]
    if not tiles or len(tiles) != len(titles):
        raise InputError("labelled_strip needs one title per image and at least one image.")
    font = ImageFont.load_default(size=16)
    head = 28
    canvas = Image.new("RGB", (len(tiles) * (side + gap) + gap, side + head + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (rgb, title) in enumerate(zip(tiles, titles)):
        x = gap + i * (side + gap)
        h, w = rgb.shape[:2]
        k = side / max(h, w)
        tile = Image.fromarray(rgb).resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.NEAREST)
        canvas.paste(tile, (x, head))
        draw.text((x, 6), title, fill=(20, 20, 20), font=font)
    return np.asarray(canvas)
