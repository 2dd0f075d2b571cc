"""Real-browser tests of the Embedding projector's map (`vizcore.ui.pointmap`): the pixels drawn are the colours
built; dragging box-selects exactly the points inside the box (the default drag, no toolbar click), the lasso
selects the points inside its shape; the wheel zooms; hover shows the point's image and text; the gallery, the label
counts and the zip follow the selection."""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest

import vizcore as vc
from tests.browser.conftest import wait_idle
from tests.browser.pointmap import (
    canvas_pixels,
    drawn,
    isolated,
    map_frame,
    on_page,
    open_vectors,
    over_white,
    pixels,
)
from vizcore.export import render
from vizcore.figures.pointmap import ALPHA
from vizcore.figures.projector import category_style

pytestmark = pytest.mark.browser


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _inside(poly: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Even-odd rule, as geometry.js's `pointsInPolygon`."""
    x, y = pts[:, 0], pts[:, 1]
    inside = np.zeros(len(pts), bool)
    for (xj, yj), (xk, yk) in zip(poly, np.roll(poly, 1, axis=0)):
        cross = ((yj > y) != (yk > y)) & (x < (xk - xj) * (y - yj) / np.where(yk == yj, 1, yk - yj) + xj)
        inside ^= cross
    return inside


def _open_map(server, page):
    """The projector's default map (digits, PCA): its frame, what it drew, each point's canvas pixel."""
    page.goto(server.url("projector"))
    wait_idle(page)
    frame = map_frame(page)
    m = drawn(frame)
    return frame, m, pixels(m["view"], m["xy"])


def _canvas_size(frame) -> list[int]:
    return frame.evaluate("() => [document.querySelector('canvas.points').width, "
                          "document.querySelector('canvas.points').height]")


def _selected_count(page) -> int:
    gallery = page.get_by_text(re.compile(r"^\d[\d,]* images? selected"))
    gallery.first.wait_for(timeout=60_000)
    wait_idle(page)
    return int(gallery.first.inner_text().split()[0].replace(",", ""))


def test_the_pixels_drawn_are_the_colours_built(server, page):
    page.goto(server.url("projector"))
    wait_idle(page)
    frame = map_frame(page)
    m = drawn(frame)
    assert m["xy"].shape == (1797, 2) and len(m["legend"]["items"]) == 10  # digits: every point, 10 labels
    palette = {item["code"]: item["color"] for item in m["legend"]["items"]}
    assert palette == {k: category_style(k, 10)[0] for k in range(10)}  # the projector's palette, as plotly had it
    codes = np.asarray(m["codes"])
    expected = np.array([(*_hex(palette[k]), ALPHA) for k in codes], np.uint8)
    assert (m["rgba"] == expected).all() and (m["shown"] == expected).all()
    swatches = frame.evaluate("() => [...document.querySelectorAll('.legend .swatch')].map(e => "
                              "getComputedStyle(e).backgroundColor)")
    assert swatches == [f"rgb({r}, {g}, {b})" for r, g, b in (_hex(palette[k]) for k in range(10))]

    px = pixels(m["view"], m["xy"])
    size = _canvas_size(frame)
    alone = isolated(px, m["shown"][:, 3], apart=2 * int(np.ceil(m["radius"])) + 3)
    alone = alone[(px[alone] >= 4).all(axis=1) & (px[alone, 0] < size[0] - 4) & (px[alone, 1] < size[1] - 4)]
    assert len(alone) >= 20, len(alone)
    assert (canvas_pixels(frame, px[alone]) == over_white(m["shown"][alone])).all()  # exactly the built colour

    box = [px[:, 0].min() + 5, px[:, 1].min() + 5]  # a box selection fades the rest to a fifth of their alpha
    page.mouse.move(*on_page(frame, box))
    page.mouse.down()
    page.mouse.move(*on_page(frame, np.median(px, axis=0)), steps=6)
    page.mouse.up()
    _selected_count(page)
    m2 = drawn(frame)
    faded = np.flatnonzero(m2["shown"][:, 3] < ALPHA)
    assert len(faded) and (m2["shown"][faded, 3] == round(ALPHA * 0.2)).all()
    px2 = pixels(m2["view"], m2["xy"])  # the page may have reflowed (a scroll bar): the view's height changes
    check = np.intersect1d(isolated(px2, m2["shown"][:, 3], apart=2 * int(np.ceil(m["radius"])) + 3), faded)
    check = check[(px2[check] >= 4).all(axis=1) & (px2[check] < np.asarray(_canvas_size(frame)) - 4).all(axis=1)]
    assert len(check) >= 10, len(check)
    assert (canvas_pixels(frame, px2[check]) == over_white(m2["shown"][check])).all()

    n = _selected_count(page)  # a search redraws the map (new colours): the map and the page keep the same selection
    seven = frame.locator(".legend .item").filter(has=frame.locator(".name", has_text=re.compile(r"^7$")))
    seven.click()  # and a legend entry the user hid stays hidden
    assert frame.evaluate("() => [...window.pointmap.state.hidden]") == [7]
    page.get_by_role("textbox", name="Search").fill("3")
    page.get_by_role("textbox", name="Search").press("Enter")
    page.get_by_text(f"{n:,} images selected").first.wait_for(timeout=60_000)
    wait_idle(page)
    frame = map_frame(page)
    frame.wait_for_function(f"() => window.pointmap.selected === {n}", timeout=30_000)
    assert frame.evaluate("() => [...window.pointmap.state.hidden]") == [7]
    assert seven.get_attribute("aria-pressed") == "false"


def test_box_and_lasso_select_exactly_the_points_inside_and_the_zip_downloads(server, page):
    frame, m, px = _open_map(server, page)
    lo, hi = np.percentile(px, 30, axis=0), np.percentile(px, 55, axis=0)
    start, end = np.round(lo).astype(int), np.round(hi).astype(int)
    page.mouse.move(*on_page(frame, start))
    page.mouse.down()  # no toolbar click: a plain drag selects a box
    page.mouse.move(*on_page(frame, end), steps=8)
    page.mouse.up()
    n = _selected_count(page)
    inside = ((px >= np.minimum(start, end)) & (px <= np.maximum(start, end))).all(axis=1)
    assert abs(n - int(inside.sum())) <= max(2, inside.sum() // 100), (n, int(inside.sum()))  # pixel rounding
    assert 0 < n < 1797
    page.get_by_text(f"Labels of the {n:,} images selected").first.wait_for(timeout=60_000)  # the label counts
    assert page.locator('[data-testid="stImage"] img').count() >= min(n, 60)  # the gallery

    page.get_by_role("tab", name="Export").click()
    wait_idle(page)
    page.get_by_text(f"The selection ({n:,} points)").wait_for(timeout=60_000)  # it survived the tab's rerun
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name=re.compile("TensorFlow Projector files")).click()
    with zipfile.ZipFile(info.value.path()) as zf:
        assert {"vectors.tsv", "metadata.tsv", "projector_config.json", "sprite.png", "bookmarks.txt"} <= set(
            zf.namelist())
        rows = zf.read("vectors.tsv").decode().splitlines()
        assert len(rows) == 1797 and len(rows[0].split("\t")) == 64

    frame = map_frame(page)
    frame.get_by_role("button", name="Lasso").click()
    m = drawn(frame)  # the view now (the page may have reflowed since)
    centre = np.median(pixels(m["view"], m["xy"]), axis=0)
    shape = np.array([centre + d for d in ((-120, -60), (100, -80), (60, 90), (-90, 70))]).round().astype(int)
    page.mouse.move(*on_page(frame, shape[0]))
    page.mouse.down()
    for p in [*shape[1:], shape[0]]:
        page.mouse.move(*on_page(frame, p), steps=6)
    page.mouse.up()
    page.get_by_role("tab", name="Selection").click()
    n_lasso = _selected_count(page)
    assert n_lasso != n
    frame = map_frame(page)
    selected = np.asarray(frame.evaluate("() => window.pointmap.state.selected"), int)
    v = m["view"]  # the points' exact pixel positions against the drawn shape (pixel centres: + 0.5)
    exact = np.stack([(m["xy"][:, 0] - v["x0"]) * v["sx"], v["height"] - 1 - (m["xy"][:, 1] - v["y0"]) * v["sy"]], 1)
    expected = np.flatnonzero(_inside(shape + 0.5, exact))
    assert len(selected) == n_lasso and len(np.setxor1d(selected, expected)) <= 2, (n_lasso, len(expected))
    assert page.locator('[data-testid="stException"]').count() == 0


def test_wheel_zooms_hover_shows_the_image_and_double_click_clears(server, page):
    frame, m, px = _open_map(server, page)
    alone = isolated(px, m["shown"][:, 3], apart=16)
    row = int(alone[len(alone) // 2])
    page.mouse.move(*on_page(frame, px[row]))
    frame.wait_for_function(f"() => window.pointmap.hovered === {row}", timeout=10_000)
    tip = frame.locator(".tooltip")
    assert tip.is_visible() and tip.inner_text().strip() == m["hover"][row]  # e.g. "digits/0042 · label 3"
    frame.wait_for_function(f"() => window.pointmap.thumb === {row}", timeout=30_000)  # its sheet fetched
    assert frame.locator(".tooltip .thumb").is_visible()
    shown = np.asarray(frame.evaluate("""() => { const c = document.querySelector('.tooltip .thumb');
        return [c.width, Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)]; }""")[1],
                       np.uint8)
    digit = render.as_uint8(vc.data.load_dataset("digits").images[row])  # (8, 8, 3): the point's own image
    k = int(np.sqrt(len(shown) // 4)) // digit.shape[0]
    assert k >= 1 and len(shown) == (8 * k) ** 2 * 4
    grid = shown.reshape(8 * k, 8 * k, 4)[k // 2::k, k // 2::k, :3]  # one pixel in each scaled-up cell
    assert (grid == digit).all()  # pixel for pixel (a lossless PNG sheet, drawn without smoothing)

    ticks = frame.evaluate("() => [...document.querySelectorAll('.ticklabel')].map(t => t.textContent)")
    sx = m["view"]["sx"]
    page.mouse.wheel(0, -360)
    frame.wait_for_function(f"() => window.pointmap.view.sx > {sx * 1.5}", timeout=30_000)
    assert frame.evaluate("() => [...document.querySelectorAll('.ticklabel')].map(t => t.textContent)") != ticks

    page.mouse.click(*on_page(frame, pixels(drawn(frame)["view"], m["xy"][row:row + 1])[0]))  # one point
    page.get_by_text(re.compile(r"nearest neighbours\*?\*? of")).first.wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text(f"row {row:,}").count() >= 1  # the neighbours tab opened on the clicked point
    frame = map_frame(page)
    frame.locator("canvas.points").dblclick()
    frame.wait_for_function("() => window.pointmap.selected === 0", timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_neighbour_captions_stand_apart(server, page):
    """Issue 13 §9: the neighbour gallery's captions ran edge to edge ("0 · d = 0.019 0 · d = 0.026")."""
    page.goto(server.url("projector"))
    wait_idle(page)
    map_frame(page)
    page.get_by_role("tab", name="Nearest neighbours").click()
    wait_idle(page)
    page.get_by_text(re.compile(r"nearest neighbours")).first.wait_for(timeout=60_000)
    # the extent of each caption's text as drawn (a Range over its characters), one box per line
    lines = page.evaluate("""() => {
        const out = [], walk = document.createTreeWalker(document.querySelector('[data-testid="stMain"]'), 4);
        for (let t = walk.nextNode(); t; t = walk.nextNode()) {
            if (!/d = \\d/.test(t.textContent)) continue;
            const r = document.createRange(); r.selectNodeContents(t);
            for (const b of r.getClientRects())
                out.push({left: b.left, right: b.right, top: b.top, text: t.textContent});
        }
        return out; }""")
    assert len(lines) >= 10, lines  # k = 10 captions with their distances
    rows: dict[int, list] = {}
    for b in lines:
        rows.setdefault(round(b["top"] / 4), []).append(b)
    gaps = [b["left"] - a["right"] for row in rows.values() for a, b in zip(sorted(row, key=lambda b: b["left"]),
                                                                            sorted(row, key=lambda b: b["left"])[1:])]
    assert gaps and min(gaps) >= 16, (min(gaps), lines[:3])  # a clear gap between one caption and the next


def test_hover_thumbnails_past_twenty_thousand_points_come_from_their_sheets(server, page, tmp_path):
    """25,000 vectors with a thumbnail column: a point far down the rows shows its own image (its colour encodes its
    row), fetched from its sheet once the background job has written it."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    n, far = 25_000, 10  # the last `far` rows lie apart on a line, the rest in one blob
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    X[-far:] = 0
    X[-far:, 0] = 40 + 12 * np.arange(far)

    def colour(r: int) -> tuple[int, int, int]:
        return r * 53 % 256, r // 256 * 97 % 256, 77  # neighbouring rows and cells differ by >= 9 in red

    def png(r: int) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), colour(r)).save(buf, format="PNG")
        return buf.getvalue()

    path = tmp_path / "many.parquet"
    pq.write_table(pa.table({"vector": list(X), "label": [f"c{r % 3}" for r in range(n)],
                             "thumbnail": [png(r) for r in range(n)]}), path)
    frame = open_vectors(page, server.url("projector"), path, n)
    m = drawn(frame)
    row = n - far // 2
    target = on_page(frame, pixels(m["view"], m["xy"][row:row + 1])[0])
    for _ in range(60):  # the sheet may not be written yet: hover again until it is (the frame retries every 3 s)
        page.mouse.move(target[0] - 40, target[1] - 40)
        page.mouse.move(*target)
        frame.wait_for_function(f"() => window.pointmap.hovered === {row}", timeout=10_000)
        if frame.evaluate(f"() => new Promise(r => setTimeout(() => r(window.pointmap.thumb === {row}), 1000))"):
            break
    else:
        raise AssertionError("the hovered point's thumbnail never came")
    got = frame.evaluate("""() => { const c = document.querySelector('.tooltip .thumb');
        return Array.from(c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data); }""")
    assert np.abs(np.array(got[:3]) - colour(row)).max() <= 4, got  # this row's own image (a JPEG sheet)
    assert page.locator('[data-testid="stException"]').count() == 0
