"""Reading the projector's point map (`vizcore.ui.pointmap`) in the browser: its frame, what it drew, where a point is.

The map lives in a component iframe; `window.pointmap` there exposes the received buffers (`state.xy`, `state.rgba`,
`state.codes`), the colours drawn (`shown`), the view (map units -> pixels) and a frame counter.
"""

from __future__ import annotations

import numpy as np

IFRAME = 'iframe[title*="pointmap"]'


def map_frame(page, index: int = 0, timeout: float = 180_000):
    """The `index`-th point map's frame, once it has drawn a frame."""
    page.locator(IFRAME).nth(index).wait_for(timeout=timeout)
    handle = page.locator(IFRAME).nth(index).element_handle()
    frame = handle.content_frame()
    frame.wait_for_function("() => window.pointmap && window.pointmap.frames > 0", timeout=timeout)
    return frame


def drawn(frame) -> dict:
    """What the map holds: xy (N, 2), rgba (N, 4) as received, shown (N, 4) as drawn, codes, view, legend."""
    raw = frame.evaluate("""() => { const p = window.pointmap, s = p.state;
        return {xy: Array.from(s.xy), rgba: Array.from(s.rgba), shown: Array.from(p.shown),
                codes: s.codes ? Array.from(s.codes) : null, view: p.view, legend: s.args.legend,
                radius: s.args.radius, hover: s.hoverText, frames: p.frames, selected: p.selected}; }""")
    raw["xy"] = np.asarray(raw["xy"], np.float32).reshape(-1, 2)
    raw["rgba"] = np.asarray(raw["rgba"], np.uint8).reshape(-1, 4)
    raw["shown"] = np.asarray(raw["shown"], np.uint8).reshape(-1, 4)
    return raw


def pixels(view: dict, xy: np.ndarray) -> np.ndarray:
    """(N, 2) int canvas pixel (column, row) of map points, as pointmap's `toPixel` rounds them (device ratio 1)."""
    col = np.round((xy[:, 0].astype(np.float64) - view["x0"]) * view["sx"])
    row = np.round(view["height"] - 1 - (xy[:, 1].astype(np.float64) - view["y0"]) * view["sy"])
    return np.stack([col, row], axis=1).astype(int)


def on_page(frame, canvas_px: np.ndarray) -> tuple[float, float]:
    """Page coordinates of the centre of canvas pixel (column, row) of the map in `frame` (device ratio 1)."""
    box = frame.locator("canvas.points").bounding_box()  # in the page's viewport, iframe offset included
    return box["x"] + float(canvas_px[0]) + 0.5, box["y"] + float(canvas_px[1]) + 0.5


def canvas_pixels(frame, where: np.ndarray) -> np.ndarray:
    """(M, 3) uint8 RGB of the drawn canvas at (column, row) pixels."""
    rgb = frame.evaluate("""pts => { const c = document.querySelector('canvas.points');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        return pts.map(([x, y]) => [d[4 * (y * c.width + x)], d[4 * (y * c.width + x) + 1],
                                    d[4 * (y * c.width + x) + 2]]); }""", [list(map(int, p)) for p in where])
    return np.asarray(rgb, np.uint8)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """The colour of one point drawn over the white background, as raster.js blends:
    255 + round((c - 255) * alpha / 255), halves rounded up (JavaScript's Math.round)."""
    c = rgba[:, :3].astype(np.float64)
    a = rgba[:, 3:4].astype(np.float64)
    return (255 + np.floor((c - 255) * a / 255 + 0.5)).astype(np.uint8)


def isolated(px: np.ndarray, alpha: np.ndarray, apart: int) -> np.ndarray:
    """Rows whose pixel is at least `apart` pixels (Chebyshev) from every other drawn point's, inside the canvas."""
    keep = []
    visible = np.flatnonzero(alpha > 0)
    for i in visible:
        d = np.abs(px[visible] - px[i]).max(axis=1)
        if (d >= apart).sum() == len(visible) - 1:
            keep.append(int(i))
    return np.asarray(keep, int)


def open_vectors(page, url: str, path, n: int, timeout: float = 300_000):
    """Open the projector at `url`, choose *Open your own vectors…*, type `path` (a file on this server) and return
    the map's frame once it holds all `n` points."""
    from tests.browser.conftest import wait_idle

    page.goto(url)
    wait_idle(page)
    map_frame(page)
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Data set").first.click()
    page.get_by_role("option", name="Open your own vectors…").first.click()
    wait_idle(page)
    box = page.get_by_role("textbox", name="…or a path on this server")
    box.fill(str(path))
    box.press("Enter")
    wait_idle(page)
    frame = map_frame(page)
    frame.wait_for_function(f"() => window.pointmap.n === {n}", timeout=timeout)
    return frame
