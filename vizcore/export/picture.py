"""Downloads that are the picture on screen: the same maps, colour range, colour bar, title and model name.

A view's PNG is composed here from the same numbers its figure draws (no browser, no kaleido): a header (title,
what the scale means, the model, "random weights" when so), one panel per map (the grid of heads, or one overlay
with its query patch outlined), and a colour bar with the ticks of `render.colorbar_ticks` (uniform attention
marked). Panels are at least `PANEL_PX` (one map) or `GRID_PANEL_PX` (a grid) on a side, more than the app draws
them. The header is also stored as PNG text chunks ("Title", "Description", "Model"), so a file says what it is.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from vizcore.errors import InputError
from vizcore.export import render

PANEL_PX = 768  # one overlay (the app draws it about 400 px wide)
GRID_PANEL_PX = 384  # each panel of a grid of maps (the app draws them about 200 px wide)
LARGE_PX = 4_000_000  # pictures larger than this are PNG-encoded for speed rather than size
BAR_PX = (24, 150)  # colour-bar width, and room for its tick labels
INK, FAINT, PAPER = (20, 20, 20), (90, 90, 90), (255, 255, 255)


_ASCII = str.maketrans({"→": "->", "×": "x", "—": "-", "–": "-", "≤": "<=", "≥": ">=", "β": "beta", "σ": "sigma",
                        "μ": "mu", "√": "sqrt", "ε": "eps", "Δ": "d"})


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (arrows, ×, Greek) when the system has it, else Pillow's built-in font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _say(text: str, font) -> str:
    """`text` as `font` can draw it (Pillow's built-in font has no arrows or Greek: spelled out)."""
    return text if "DejaVu" in (font.getname()[0] or "") else text.translate(_ASCII)


def header(width: int, title: str, lines: Sequence[str]) -> np.ndarray:
    """A white band `width` px wide with `title` and one line per entry of `lines` (wrapped): uint8 (h, width, 3)."""
    big, small = _font(22), _font(15)
    rows = [(title, big, INK)] + [(w, small, FAINT) for line in lines for w in _wrap(line, small, width - 24)]
    height = 14 + sum(f.size + 8 for _, f, _ in rows)
    band = Image.new("RGB", (width, height), PAPER)
    draw, y = ImageDraw.Draw(band), 10
    for text, font, colour in rows:
        draw.text((12, y), _say(text, font), fill=colour, font=font)
        y += font.size + 8
    return np.asarray(band)


def _wrap(text: str, font, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if line and font.getlength(_say(trial, font)) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])


def titled(picture: np.ndarray, title: str, lines: Sequence[str]) -> np.ndarray:
    """`picture` (H, W, 3) uint8 under a header with `title` and `lines`."""
    top = header(picture.shape[1], title, lines)
    return np.concatenate([top, picture], axis=0)


def colorbar(colorscale: str, lo: float, hi: float, height: int, uniform: float | None = None,
             label: str = "attention") -> np.ndarray:
    """A vertical colour bar (low at the bottom) with labelled ticks, as the figure's: uint8 (height + 54, w, 3)."""
    bw, room = BAR_PX
    top = 30
    canvas = Image.new("RGB", (bw + room, height + top + 24), PAPER)
    ramp = render.colorize(np.linspace(1.0, 0.0, height)[:, None].repeat(bw, axis=1), colorscale, lo=0.0, hi=1.0)
    canvas.paste(Image.fromarray(ramp), (0, top))
    draw, font = ImageDraw.Draw(canvas), _font(14)
    draw.text((0, 2), _say(label, font), fill=INK, font=font)
    span = hi - lo if hi > lo else 1.0
    if uniform is not None and not lo <= uniform <= hi:
        where = "below" if uniform < lo else "above"
        draw.text((0, height + top + 4), _say(f"uniform 1/{round(1 / uniform):,} {where}", font), fill=INK, font=font)
    for value, text in render.colorbar_ticks(lo, hi, uniform):
        y = top + round((1 - (value - lo) / span) * (height - 1))
        strong = text.startswith("uniform")
        draw.line([(bw - (bw if strong else 6), y), (bw + 4, y)], fill=INK, width=2 if strong else 1)
        draw.text((bw + 8, y - 8), _say(text, font), fill=INK, font=font)
    return np.asarray(canvas)


def _outline(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Draw the query patch's outline (black, then white inside: visible on any colour map)."""
    im = Image.fromarray(rgb)
    draw = ImageDraw.Draw(im)
    x0, y0, x1, y1 = box
    draw.rectangle([x0, y0, x1, y1], outline=(0, 0, 0), width=5)
    draw.rectangle([x0 + 2, y0 + 2, x1 - 2, y1 - 2], outline=(255, 255, 255), width=2)
    return np.asarray(im)


def attention_picture(image, grids, *, title: str, lines: Sequence[str], names: Sequence[str] | None = None,
                      colorscale: str = "Inferno", opacity: float = 0.6, interpolation: str = "bilinear",
                      lo: float, hi: float, uniform: float | None = None, cols: int = 4,
                      highlight: tuple[int, int] | None = None, bar_label: str = "attention",
                      panel_px: int | None = None) -> np.ndarray:
    """Attention maps over the image, as the app draws them: uint8 (H, W, 3).

    Args:
        image: (C, h, w) in [0, 1] or uint8 (h, w, 3): exactly what the model saw.
        grids: (n, gh, gw) maps (one overlay: n = 1; the heads of a layer: n = H), coloured over [lo, hi].
        names: a title per panel ("head 0", ...).
        highlight: (row, col) of the query patch, outlined.
        bar_label: the colour bar's title (e.g. "CLS attention").
        panel_px: each panel's least side in px (the image is enlarged by a whole factor to reach it); default
            PANEL_PX for one overlay, GRID_PANEL_PX for a grid.
    """
    maps = render.as_array(grids).astype(np.float64)
    if maps.ndim == 2:
        maps = maps[None]
    if maps.ndim != 3 or 0 in maps.shape:
        raise InputError(f"Expected maps shaped (n, gh, gw); got {tuple(maps.shape)}.")
    rgb = render.as_uint8(image)
    side = panel_px or (PANEL_PX if len(maps) == 1 else GRID_PANEL_PX)
    k = max(1, math.ceil(side / max(rgb.shape[:2])))
    big = np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)  # the pixels the model saw, crisp
    gh, gw = maps.shape[1:]
    panels = []
    for i, grid in enumerate(maps):
        panel = render.overlay(big, grid, opacity=opacity, colorscale=colorscale, interpolation=interpolation,
                               lo=lo, hi=hi)
        if highlight is not None:
            r, c = highlight
            ph, pw = big.shape[0] / gh, big.shape[1] / gw
            panel = _outline(panel, (round(c * pw), round(r * ph), round((c + 1) * pw) - 1, round((r + 1) * ph) - 1))
        panels.append(_captioned(panel, names[i] if names else ""))
    grid_img = _tile(panels, cols)
    bar = colorbar(colorscale, lo, hi, min(grid_img.shape[0] - 80, 420), uniform, label=bar_label)  # beside panels
    body = np.full((grid_img.shape[0], grid_img.shape[1] + bar.shape[1] + 16, 3), 255, np.uint8)
    body[:, :grid_img.shape[1]] = grid_img
    body[12:12 + bar.shape[0], grid_img.shape[1] + 16:] = bar
    return titled(body, title, lines)


def _captioned(panel: np.ndarray, name: str) -> np.ndarray:
    if not name:
        return panel
    band = Image.new("RGB", (panel.shape[1], 28), PAPER)
    font = _font(16)
    ImageDraw.Draw(band).text((4, 5), _say(name, font), fill=INK, font=font)
    return np.concatenate([np.asarray(band), panel], axis=0)


def _tile(panels: list[np.ndarray], cols: int, gap: int = 12) -> np.ndarray:
    cols = max(1, min(cols, len(panels)))
    rows = math.ceil(len(panels) / cols)
    h, w = panels[0].shape[:2]
    out = np.full((rows * (h + gap) + gap, cols * (w + gap) + gap, 3), 255, np.uint8)
    for i, p in enumerate(panels):
        r, c = divmod(i, cols)
        out[gap + r * (h + gap):gap + r * (h + gap) + h, gap + c * (w + gap):gap + c * (w + gap) + w] = p
    return out


def png(picture: np.ndarray, *, title: str, lines: Sequence[str] = (), model: str = "") -> bytes:
    """PNG bytes of `picture`, with the header also stored as text chunks (Title, Description, Model, Software).

    Pictures over LARGE_PX pixels are compressed at zlib level 1 (the same pixels; a ViT-B every-layer picture
    encodes 2.4x faster and 10% larger than at the default level 6)."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt("Title", title)
    info.add_itxt("Description", "\n".join(lines))
    if model:
        info.add_itxt("Model", model)
    info.add_text("Software", "vizcore")
    buf = io.BytesIO()
    level = 1 if picture.shape[0] * picture.shape[1] > LARGE_PX else 6
    Image.fromarray(np.ascontiguousarray(picture)).save(buf, format="PNG", pnginfo=info, compress_level=level)
    return buf.getvalue()


def titled_gif(frames, *, title: str, lines: Sequence[str], labels: Sequence[str], side: int = 256,
               duration_ms: int = 80, boomerang: bool = True) -> bytes:
    """An animated GIF of frames (S, C, h, w) in [0, 1], each enlarged to about `side` px (nearest) under the same
    header and its own label (e.g. "t = 0.25"); plays forwards then backwards with `boomerang`."""
    arr = render.as_array(frames).astype(np.float32)
    if arr.ndim != 4 or len(arr) == 0 or len(labels) != len(arr):
        raise InputError(f"Expected frames shaped (S, C, H, W) and one label each; got {arr.shape}, {len(labels)}.")
    k = max(1, math.ceil(side / max(arr.shape[-2:])))
    pictures = []
    for frame, label in zip(arr, labels):
        u8 = render.as_uint8(np.clip(frame, 0, 1))
        big = np.repeat(np.repeat(u8, k, axis=0), k, axis=1)
        pad = np.full((big.shape[0] + 24, max(big.shape[1] + 24, 420), 3), 255, np.uint8)
        x = (pad.shape[1] - big.shape[1]) // 2
        pad[12:12 + big.shape[0], x:x + big.shape[1]] = big
        pictures.append(Image.fromarray(titled(pad, title, [*lines, label])))
    if boomerang and len(pictures) > 2:
        pictures = pictures + pictures[-2:0:-1]
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=duration_ms, loop=0)
    return buf.getvalue()
