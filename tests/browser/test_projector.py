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
