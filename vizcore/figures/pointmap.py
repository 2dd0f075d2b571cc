"""The projector's 2-D map as binary buffers for the browser's point renderer (`vizcore.ui.pointmap`).

Plotly's scattergl sends every point as JSON and redraws all of them in software WebGL on each zoom: 24 s to a
first frame at 100k points and 4.3 s a zoom here (benchmarks/RESULTS.md). A `PointMap` holds what the renderer
draws, already decided on the server: float32 positions, one RGBA colour per point (the same palettes as the
plotly figures: `projector.category_style`, Viridis through `render.colorize`), the legend, hover text,
search matches and density contours. The browser only draws them. Hover thumbnails are sheets of images
(`thumbnail_sheet`) that `vizcore.ui.thumbsheets` writes to disk and the browser fetches as a point is hovered.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from vizcore.errors import InputError
from vizcore.export import render
from vizcore.figures._common import CATEGORICAL
from vizcore.figures.projector import CONTINUOUS, MAP_HEIGHT, category_style

ALPHA = 204         # 0.8 opacity, as the plotly map drew its points
DIM_ALPHA = 38      # 0.15: points that do not match a search
HOVER_MAX = 200_000  # above this many points hover gives the row and category only (text would be ~3 MB per 100k)
THUMB_SIDE = 32      # longest side of a hover thumbnail on a sheet, pixels (smaller images keep their size)
CONTOUR_LEVELS = 8
MISSING = (187, 187, 187)  # grey: a point without a value on a colour scale
NO_IMAGE = (236, 150)  # a thumbnail cell of a row without an image: background and diagonal grey levels


@dataclass(frozen=True, eq=False)
class PointMap:
    """A 2-D map of N points as the browser draws it.

    Attributes:
        xy: (N, 2) float32 map coordinates minus `offset` (the float64 centre of their range), so that a map far
            from 0 keeps its spread in float32; the axes show xy + offset.
        rgba: (N, 4) uint8 colour of each point, alpha included (dimmed where a search does not match).
        codes: (N,) uint16 category of each point (its legend entry), or None for a colour scale.
        legend: {"kind": "categories", "title", "items": [{"code", "name", "color", "count"}], "names"} or
            {"kind": "scale", "title", "stops": [[position, "#rrggbb"], ...], "min_label", "max_label"}.
        hover: one line of text per point, or None (then the row and category are shown).
        matches: (M,) uint32 rows of the points matching a search (drawn outlined on top), or None.
        contours: density contour lines, each a list of [x, y] map coordinates.
    """

    xy: np.ndarray
    rgba: np.ndarray
    codes: np.ndarray | None
    legend: dict
    title: str
    subtitle: str = ""
    axis_titles: tuple[str, str] = ("1", "2")
    hover: tuple[str, ...] | None = None
    matches: np.ndarray | None = None
    contours: list = field(default_factory=list)
    height: int = MAP_HEIGHT
    offset: tuple[float, float] = (0.0, 0.0)
    selectable: bool = True

    @property
    def radius(self) -> float:
        """Point radius in screen pixels: smaller as the map fills up."""
        n = len(self.xy)
        return 3.0 if n <= 20_000 else 2.0 if n <= 200_000 else 1.5

    def data_id(self) -> str:
        """A digest of everything drawn per point: the browser re-reads the buffers only when it changes."""
        h = hashlib.blake2b(digest_size=16)
        for part in (self.xy, self.rgba, self.codes, self.matches):
            h.update(b"-" if part is None else np.ascontiguousarray(part).tobytes())
        h.update("\n".join(self.hover or ()).encode())
        return h.hexdigest()


def point_map(coords, *, title: str, subtitle: str = "", axis_titles: Sequence[str] = ("1", "2"),
              categories=None, category_names: Sequence[str] = (), values=None, color_title: str = "label",
              hover: Sequence[str] | None = None, highlight=None, contours: bool = False,
              height: int = MAP_HEIGHT, selectable: bool = True) -> PointMap:
    """All N points of a 2-D map, coloured by a category or by a number, ready for `vizcore.ui.pointmap`.

    Args:
        coords: (N, 2) map coordinates.
        categories: (N,) int index into `category_names`; colours as `projector.category_style` (legend entries).
        values: (N,) numbers for the Viridis colour scale (used when `categories` is None; NaN is grey, counted
            in the legend's note).
        hover: (N,) text per point; dropped above HOVER_MAX points.
        highlight: (N,) bool; non-matching points are dimmed and the matches outlined.
        contours: add CONTOUR_LEVELS density contour lines.
        selectable: False for a map that only shows (a drag pans, a click picks nothing).

    Raises:
        InputError: coordinates not (N, 2), empty or not finite; categories / values / highlight not one per point.
    """
    full = np.asarray(coords, dtype=np.float64)
    if full.ndim != 2 or full.shape[1] != 2 or len(full) == 0:
        raise InputError(f"Expected 2-D map coordinates shaped (N, 2); got {tuple(full.shape)}.")
    bad = int((~np.isfinite(full).all(axis=1)).sum())
    if bad:
        raise InputError(f"{bad:,} of {len(full):,} map coordinates are not finite (NaN or infinite); a map needs a "
                         "position for every point. Recompute the map, or drop those rows.")
    offset = (full.min(axis=0) + full.max(axis=0)) / 2  # float32 around 0: a map far from 0 keeps its spread
    xy = np.ascontiguousarray(full - offset, dtype=np.float32)
    n = len(xy)
    if categories is not None:
        codes = np.asarray(categories)
        if codes.shape != (n,):
            raise InputError(f"Got {codes.shape} categories for {n} points; give one per point.")
        codes = codes.astype(np.uint16)
        rgba, legend = _category_colours(codes, category_names, color_title)
    else:
        codes = None
        vals = np.asarray(values if values is not None else np.zeros(n), dtype=np.float64)
        if vals.shape != (n,):
            raise InputError(f"Got {vals.shape} colour values for {n} points; give one per point.")
        rgba, legend = _scale_colours(vals, color_title)
    matches = None
    if highlight is not None:
        mask = np.asarray(highlight, dtype=bool)
        if mask.shape != (n,):
            raise InputError(f"Got {mask.shape} highlight flags for {n} points; give one per point.")
        if mask.any():
            rgba[~mask, 3] = DIM_ALPHA
            matches = np.flatnonzero(mask).astype(np.uint32)
    text = tuple(str(t) for t in hover) if hover is not None and n <= HOVER_MAX else None
    return PointMap(xy, rgba, codes, legend, title, subtitle, (str(axis_titles[0]), str(axis_titles[1])), text,
                    matches, density_contours(xy) if contours else [], height=height,
                    offset=(float(offset[0]), float(offset[1])), selectable=selectable)


def _hex(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _category_colours(codes: np.ndarray, names: Sequence[str], title: str) -> tuple[np.ndarray, dict]:
    k = len(names)
    if k == 0 or codes.max(initial=0) >= k:
        raise InputError(f"Category codes go up to {int(codes.max(initial=0))} but {k} names were given.")
    colours = [category_style(i, k)[0] for i in range(k)]
    table = np.array([(*_hex(c), ALPHA) for c in colours], dtype=np.uint8)  # (k, 4)
    counts = np.bincount(codes, minlength=k)
    items = [{"code": i, "name": str(names[i]), "color": colours[i], "count": int(counts[i])}
             for i in range(k) if counts[i]]
    distinct = len(CATEGORICAL)  # Okabe-Ito's 8 up to 8 categories, then these
    note = ("" if k <= distinct else f"{k} categories, {distinct} distinct colours: colours repeat. Hover a point "
            "for its value, or click legend entries to hide them.")
    return table[codes], {"kind": "categories", "title": title, "items": items, "names": [str(s) for s in names],
                          "note": note}


def _scale_colours(vals: np.ndarray, title: str) -> tuple[np.ndarray, dict]:
    finite = np.isfinite(vals)
    lo, hi = (float(vals[finite].min()), float(vals[finite].max())) if finite.any() else (0.0, 0.0)
    rgb = render.colorize(vals, CONTINUOUS, lo=lo, hi=hi if hi > lo else lo + 1.0)  # (N, 3) uint8
    rgb[~finite] = MISSING  # no value: grey, not the scale's lowest colour
    rgba = np.concatenate([rgb, np.full((len(vals), 1), ALPHA, np.uint8)], axis=1)
    stops = [[pos, colour] for pos, colour in render.colorscale_stops(CONTINUOUS)]
    missing = int((~finite).sum())
    note = f"grey: no value ({missing:,} point{'s' if missing != 1 else ''})" if missing else ""
    return np.ascontiguousarray(rgba), {"kind": "scale", "title": title, "stops": stops, "note": note,
                                        "min_label": f"{lo:.4g}", "max_label": f"{hi:.4g}"}


def density_contours(xy: np.ndarray, levels: int = CONTOUR_LEVELS, bins: int = 80) -> list[list[list[float]]]:
    """Lines of equal point density: a (bins, bins) histogram smoothed by a Gaussian (sigma 1.5 bins), cut at
    `levels` evenly spaced densities between 5% and 85% of its peak (`skimage.measure.find_contours`)."""
    from scipy.ndimage import gaussian_filter
    from skimage.measure import find_contours

    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    if not (x1 > x0 and y1 > y0):
        return []
    hist, xe, ye = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins, range=[[x0, x1], [y0, y1]])
    density = gaussian_filter(hist, 1.5)
    lines = []
    for level in np.linspace(0.05, 0.85, levels) * density.max():
        for c in find_contours(density, level):  # (m, 2) in bin indices (x bin, y bin)
            x = np.interp(c[:, 0], np.arange(bins), (xe[:-1] + xe[1:]) / 2)
            y = np.interp(c[:, 1], np.arange(bins), (ye[:-1] + ye[1:]) / 2)
            lines.append(np.round(np.stack([x, y], axis=1), 5).tolist())
    return lines


def _no_image(side: int) -> np.ndarray:
    """(side, side) uint8: the NO_IMAGE cell, light grey with both diagonals drawn darker."""
    cell = np.full((side, side), NO_IMAGE[0], np.uint8)
    k = np.arange(side)
    cell[k, k] = cell[k, side - 1 - k] = NO_IMAGE[1]
    return cell


def thumbnail_sheet(images: Sequence[np.ndarray | None], *, side: int, columns: int, fmt: str) -> bytes:
    """One sheet of hover thumbnails: image k of `images` in cell k (row-major, `columns` cells a row, cells
    `side` px square), as PNG or JPEG bytes.

    Each image (uint8 (h, w, 3)) is fitted into the cell, keeping its aspect ratio (LANCZOS), at the cell's top
    left; smaller images keep their size. A row without an image (None) gets a light grey cell crossed by its
    diagonals (NO_IMAGE), so it does not pass for a white image; cells past the last image stay white. `fmt` "png"
    keeps exact pixels (one grey channel when every image is grey); "jpeg" (quality 85) suits photos.

    Raises:
        ValueError: `fmt` not "png" or "jpeg", `side` or `columns` below 1.
    """
    if fmt not in ("png", "jpeg") or side < 1 or columns < 1:
        raise ValueError(f"thumbnail_sheet needs fmt 'png' or 'jpeg' and side, columns >= 1; got {fmt!r}, {side}, "
                         f"{columns}.")
    rows = max(1, -(-len(images) // columns))
    sheet = np.full((rows * side, columns * side, 3), 255, np.uint8)
    grey = True
    for i, im in enumerate(images):
        if im is None:
            r, c = divmod(i, columns)
            sheet[r * side:(r + 1) * side, c * side:(c + 1) * side] = _no_image(side)[..., None]
            continue
        a = np.asarray(im, dtype=np.uint8)
        grey = grey and bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())
        if max(a.shape[:2]) > side:
            k = side / max(a.shape[:2])
            a = np.asarray(Image.fromarray(a).resize((max(1, round(a.shape[1] * k)), max(1, round(a.shape[0] * k))),
                                                     Image.Resampling.LANCZOS))
        r, c = divmod(i, columns)
        sheet[r * side:r * side + a.shape[0], c * side:c * side + a.shape[1]] = a
    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(sheet[..., 0] if grey else sheet).save(buf, format="PNG", optimize=False)
    else:
        Image.fromarray(sheet).save(buf, format="JPEG", quality=85)
    return buf.getvalue()
