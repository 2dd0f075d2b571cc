"""The point map in the app: a Streamlit component (v1) drawing a `figures.PointMap` in the browser.

The points travel as `bytes` arguments (float32 positions, RGBA colours, uint16 categories): Streamlit sends them
as binary inside its message, with no JSON, and sends only a reference when a rerun produces the same message.
The browser draws them on the CPU into the canvas (no GPU needed; deck.gl in software WebGL took seconds a
frame, benchmarks/RESULTS.md), so zooming and panning redraw without the server. The frontend is
`pointmap_frontend/`: plain ES modules served as they are (no build step, no npm packages).

A drag selects (box, or lasso from the map's toolbar), a click picks one point, a double-click clears; the
component returns the selected rows with the `map_id` they were selected on, so a selection made on another map
(other data, source or method) is never applied to this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit.components.v1 as components

from vizcore.figures.pointmap import PointMap
from vizcore.ui.thumbsheets import Sheets

FRONTEND = Path(__file__).with_name("pointmap_frontend")
_component = components.declare_component("vizcore_pointmap", path=str(FRONTEND))


@dataclass(frozen=True)
class MapSelection:
    """What the user picked on the map: `rows` sorted and unique (global row numbers); `clicked` for a click."""

    rows: tuple[int, ...] = ()
    clicked: int | None = None


def draw(pm: PointMap, *, key: str, map_id: str, thumbs: Sheets | None = None) -> MapSelection:
    """Draw `pm` and return the selection made on this map (empty for another `map_id` or none yet); `thumbs`
    are the points' hover thumbnails (row i of the map is thumbnail i), fetched by the browser as needed."""
    n = len(pm.xy)
    value = _component(
        key=key, default=None, map_id=map_id, data_id=pm.data_id(), n=n, title=pm.title, subtitle=pm.subtitle,
        axis_titles=list(pm.axis_titles), legend=pm.legend, height=pm.height, radius=pm.radius,
        contours=pm.contours, xy=pm.xy.tobytes(), rgba=pm.rgba.tobytes(),
        codes=None if pm.codes is None else pm.codes.tobytes(),
        matches=None if pm.matches is None else pm.matches.tobytes(),
        hover=None if pm.hover is None else "\n".join(t.replace("\n", " ") for t in pm.hover).encode(),
        thumbs=None if thumbs is None else thumbs.args(), offset=list(pm.offset), selectable=pm.selectable)
    return selection(value, map_id, n)


def selection(value, map_id: str, n: int) -> MapSelection:
    """The component's value as a `MapSelection` of this map (rows outside 0..n-1 dropped)."""
    if not isinstance(value, dict) or value.get("map_id") != map_id:
        return MapSelection()
    rows = sorted({int(r) for r in value.get("rows") or () if isinstance(r, int) and 0 <= r < n})
    clicked = value.get("clicked")
    return MapSelection(tuple(rows), clicked if isinstance(clicked, int) and 0 <= clicked < n else None)
