"""The Embedding projector's map: its controls (colour, search, contours), the map of all points and its selection.

2-D maps are `figures.PointMap`s drawn in the browser by `ui.pointmap` (binary buffers, CPU-drawn points, a drag
selects); 3-D maps are plotly figures (rotation is plotly's).
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from vizcore import figures
from vizcore.analysis import projection
from vizcore.data import vector_sets
from vizcore.export import render
from vizcore.figures.pointmap import HOVER_MAX, THUMB_SIDE
from vizcore.figures.projector import MAP_HEIGHT
from vizcore.ui import pointmap, thumbsheets
from vizcore.ui.projector_state import MAX_CATEGORIES, METHOD_NAMES, TABS, DataChoice, MapOptions, Method, Source

OTHER = vector_sets.OTHER  # the legend entry of the values past the MAX_CATEGORIES - 1 most frequent


def map_controls(data: DataChoice, method: Method) -> MapOptions:
    columns = ["label", *data.dataset.metadata]
    c1, c2, c3, c4 = st.columns([2, 3, 2, 2], vertical_alignment="bottom")
    color_by = c1.selectbox("Colour by", columns, key="pj_color")
    search = c2.text_input("Search", key="pj_search", placeholder="e.g. 3, cat, astronaut",
                           help="Highlights the points whose value matches (exactly, or else as a substring).")
    search_in = c3.selectbox("Search in", ["label", "id", *data.dataset.metadata], key="pj_search_in")
    contours = c4.toggle("Density contours", value=False, key="pj_contours", disabled=method.dims == 3)
    return MapOptions(color_by, search.strip(), search_in, contours and method.dims == 2)


def column_values(data: DataChoice, name: str) -> np.ndarray:
    d = data.dataset
    if name == "label":
        return np.asarray(d.label_names, dtype=object)[d.labels]
    if name == "id":
        return np.asarray(d.ids, dtype=object)
    return np.asarray(d.metadata[name], dtype=object)


def search_matches(data: DataChoice, display: MapOptions) -> np.ndarray | None:
    """(N,) bool of the points whose `search_in` value equals the query (case-insensitive), else contains it."""
    if not display.search:
        return None
    values = np.array([str(v).casefold() for v in column_values(data, display.search_in)])
    query = display.search.casefold()
    exact = values == query
    found = exact if exact.any() else np.char.find(values.astype(str), query) >= 0
    if not found.any():
        st.caption(f"No point's {display.search_in} matches '{display.search}'.")
    return found


def _colours(data: DataChoice, name: str) -> dict:
    """Keyword arguments of `projection_scatter` for colouring by label or by a metadata column."""
    d = data.dataset
    if name == "label" and len(d.label_names) <= MAX_CATEGORIES:
        return dict(categories=d.labels, category_names=d.label_names, color_title="label")
    raw = np.asarray(d.label_names, dtype=object)[d.labels] if name == "label" else np.asarray(d.metadata[name])
    raw = _numbers(raw)
    if raw.dtype.kind in "iuf":  # numbers: a colour scale, or one colour per value when there are few
        values, codes = np.unique(raw, return_inverse=True)
        if len(values) > 12:
            return dict(values=raw.astype(np.float32), color_title=name)
        names = tuple("(no value)" if v != v else f"{v:g}" for v in values)  # NaN: a blank cell
        return dict(categories=codes, category_names=names, color_title=name)
    text = np.array([str(v) for v in raw])
    names, counts = np.unique(text, return_counts=True)
    if len(names) > MAX_CATEGORIES:
        keep = names[np.argsort(-counts, kind="stable")[: MAX_CATEGORIES - 1]]
        text = np.where(np.isin(text, keep), text, OTHER)
    uniq, codes = np.unique(text, return_inverse=True)
    names = sorted(uniq.tolist(), key=vector_sets.natural_key)  # "img2" before "img10"; "(other)" last
    position = {n: k for k, n in enumerate(names)}
    return dict(categories=np.array([position[u] for u in uniq.tolist()])[codes], category_names=tuple(names),
                color_title=name)


def _numbers(raw: np.ndarray) -> np.ndarray:
    """A text column whose every non-blank value is a number (a CSV with empty cells) as float, blanks NaN."""
    if raw.dtype.kind not in "OUS":
        return raw
    text = np.array([str(v).strip() for v in raw])
    filled = text != ""
    try:
        numbers = np.where(filled, text, "nan").astype(np.float64)
    except ValueError:
        return raw
    return numbers if filled.any() and np.isfinite(numbers[filled]).all() else raw


def _hover(data: DataChoice, color_by: str) -> np.ndarray | None:
    d = data.dataset
    if len(d) > HOVER_MAX:
        return None
    base = [f"{i} · label {d.label_names[k]}" for i, k in zip(d.ids, d.labels)]
    if color_by == "label":
        return np.asarray(base, dtype=object)
    return np.asarray([f"{b} · {color_by} {_short(v)}" for b, v in zip(base, d.metadata[color_by])], dtype=object)


def _short(value) -> str:
    """A metadata value for hover: numbers to 4 significant digits, text as it is."""
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def map_figure(data: DataChoice, source: Source, proj: projection.Projection, display: MapOptions, *,
               matches=None, height: int = MAP_HEIGHT, color_by: str | None = None, selectable: bool = True):
    """The map of all points: a `figures.PointMap` in 2-D (drawn by `ui.pointmap`), a plotly figure in 3-D."""
    dims = proj.coords.shape[1]
    name = METHOD_NAMES[proj.method]
    if proj.explained_variance is not None:
        axes = [f"PC {i + 1} ({v:.1%} of variance)" for i, v in enumerate(proj.explained_variance)]
        note = "axes are the directions of largest variance"
    else:
        axes = [f"{name} {i + 1}" for i in range(dims)]
        note = "axes have no units: neighbourhoods are meaningful, distances between clusters are not"
    common = dict(title=f"{data.title} · {source.title} · {name} {dims}-D", axis_titles=axes,
                  subtitle=f"all {len(proj.coords):,} {'vectors' if data.vectors else 'images'}, one dot each; {note}",
                  hover=_hover(data, color_by or display.color_by), highlight=matches, contours=display.contours,
                  height=height, **_colours(data, color_by or display.color_by))
    if dims == 3:
        return figures.projection_scatter(proj.coords, highlight_name=f"'{display.search}'", **common)
    return figures.point_map(proj.coords, selectable=selectable, **common)


def hover_sheets(data: DataChoice) -> thumbsheets.Sheets | None:
    """The data set's hover thumbnails (written in the background on first use, `ui.thumbsheets`), or None when
    it has no images or the cache folder cannot be written: every row's image, from memory or, for your own
    vectors, from its thumbnail or path column (files carry stamps, so a changed file gets a new thumbnail)."""
    key = data.images_key or data.key
    if data.vectors is not None:
        v = data.vectors
        if v.image_column is None:
            return None
        stamp = None if v.image_kind == "bytes" else lambda rows: vector_sets.image_stamp(v, rows)
        return thumbsheets.start(key, len(v), lambda rows: [vector_sets.thumbnail(v, i, THUMB_SIDE) for i in rows],
                                 side=THUMB_SIDE, fmt="jpeg", stamp=stamp)
    images = data.dataset.images  # (N, C, H, W) float in [0, 1]
    if images.ndim != 4 or 0 in images.shape:
        return None
    n, c, h, w = images.shape
    side = min(THUMB_SIDE, max(h, w))
    sample = render.as_array(images[:: max(1, n // 64)])  # a bundled set is keyed by name: its pixels tell versions
    fingerprint = hashlib.blake2b(np.ascontiguousarray(sample).tobytes(), digest_size=8).hexdigest()

    def rows_uint8(rows: range) -> list[np.ndarray]:  # as `render.as_uint8`, one conversion a sheet
        batch = render.as_array(images[rows.start:rows.stop]).astype(np.float64)
        return [render.as_uint8(im) for im in np.clip(np.rint(batch * 255.0), 0, 255).astype(np.uint8)]

    return thumbsheets.start(f"{key}|{fingerprint}", n, rows_uint8, side=side,
                             fmt="png" if c == 1 or side <= 16 else "jpeg", in_memory=True)


def hover_note(pm, sheets: thumbsheets.Sheets | None) -> str:
    """What hovering a point shows, and whether its thumbnails are still being written."""
    text = "its id and label" if pm.hover else "its row and label"
    if sheets is None:
        return f"hover a point for {text}"
    status = sheets.status()
    if status == "ready":
        return f"hover a point for its image and {text}"
    if status == "writing":
        return (f"hover a point for its image and {text} (thumbnails are being written in the background: until a "
                "point's are ready, it shows its text)")
    return f"hover a point for {text} (thumbnails stopped: {status.removeprefix('failed: ')})"


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_map(ident: tuple, _build):
    """A map built once per `ident` (data, source, method, display options, height): 0.3-1 s at 100k-1M points."""
    return _build()


def map_id(data: DataChoice, source: Source, proj: projection.Projection) -> str:
    """Names the points' positions: a selection made on another map is not applied to this one."""
    return f"{data.key}|{source.spec}|{source.pretrained}|{source.layer}|{source.pooling}|{proj.method}|" \
           f"{len(proj.coords)}|{proj.coords.shape[1]}|{float(proj.coords[:, 0].sum()):.6g}"


def draw_map(data: DataChoice, source: Source, proj: projection.Projection, display: MapOptions,
             matches) -> list[int]:
    """The main map; returns the global rows of the points selected on it (2-D only)."""
    if proj.coords.shape[1] == 3:
        st.plotly_chart(map_figure(data, source, proj, display, matches=matches), width="stretch", key="pj_map3d")
        st.caption("Drag to rotate, scroll to zoom. Selecting points works on the 2-D map; here, search or type a "
                   "row number under *Nearest neighbours*.")
        return []
    ident = map_id(data, source, proj)
    pm = cached_map((ident, display), lambda: map_figure(data, source, proj, display, matches=matches))
    sheets = hover_sheets(data)
    picked = pointmap.draw(pm, key="pj_map", map_id=ident, thumbs=sheets)
    hover = hover_note(pm, sheets)
    st.caption(f"Drag on the map to select points with a box (*Lasso* and *Pan* are in the map's toolbar); "
               f"scroll to zoom; {hover}; click one point to see its nearest neighbours; double-click to clear; "
               "click a legend entry to hide or show it.")
    return list(picked.rows)


def follow_selection(rows: list[int]) -> None:
    """Open the neighbours tab when the user has just clicked a single point (call before drawing the tabs)."""
    previous = st.session_state.get("pj_last_selection")
    st.session_state.pj_last_selection = rows
    if len(rows) == 1 and rows != previous:
        st.session_state.pj_tab = TABS[1]
