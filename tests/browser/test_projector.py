"""Real-browser test of the Embedding projector: dragging on the map box-selects points (the default drag, no toolbar
click), the gallery shows them, the zip downloads."""

from __future__ import annotations

import re
import zipfile

import pytest

from tests.browser.conftest import wait_idle

pytestmark = pytest.mark.browser


def test_box_selection_shows_a_gallery_and_the_zip_downloads(server, page):
    page.goto(server.url("projector"))
    wait_idle(page)
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(timeout=120_000)
    assert page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.dragmode") == "select"
    before = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range.slice()")
    box = plot.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -240)  # the wheel zooms (plotly's scrollZoom is off for 2-D axes unless asked for)
    page.wait_for_function("r => JSON.stringify(document.querySelector('.js-plotly-plot')._fullLayout.xaxis.range)"
                           " !== JSON.stringify(r)", arg=before, timeout=30_000)
    page.dblclick(".js-plotly-plot .nsewdrag")  # back to the whole map
    wait_idle(page)
    box = plot.locator(".nsewdrag").first.bounding_box()  # no toolbar click: a plain drag selects
    x0, y0 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.2, y0 + box["height"] * 0.2, steps=8)
    page.mouse.up()
    gallery = page.get_by_text(re.compile(r"^\d[\d,]* images selected"))
    gallery.first.wait_for(timeout=60_000)
    wait_idle(page)
    n = int(gallery.first.inner_text().split()[0].replace(",", ""))
    assert 0 < n < 1797
    assert page.get_by_text(f"Labels of the {n:,} images selected").count() >= 1  # the label-count chart
    assert page.locator('[data-testid="stImage"] img').count() >= min(n, 60)  # the gallery

    page.get_by_role("tab", name="Export").click()
    wait_idle(page)
    page.get_by_text(f"The selection ({n:,} points)").wait_for(timeout=60_000)  # it survived the tab's rerun
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name=re.compile("TensorFlow Projector files")).click()
    with zipfile.ZipFile(info.value.path()) as zf:
        names = set(zf.namelist())
        assert {"vectors.tsv", "metadata.tsv", "projector_config.json", "sprite.png", "bookmarks.txt"} <= names
        rows = zf.read("vectors.tsv").decode().splitlines()
        assert len(rows) == 1797 and len(rows[0].split("\t")) == 64
    assert page.locator('[data-testid="stException"]').count() == 0


def test_neighbour_captions_stand_apart(server, page):
    """Issue 13 §9: the neighbour gallery's captions ran edge to edge ("0 · d = 0.019 0 · d = 0.026")."""
    page.goto(server.url("projector"))
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
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
