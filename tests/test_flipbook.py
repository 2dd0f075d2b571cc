"""Flip-books (pictures switched in the browser): every page's picture is exactly the array it was built from, and
every page's title names that page's own settings (issue 13: what is written describes what is shown)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from vizcore.export import render
from vizcore.ui import flipbook as flip


def _decode(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


def _shown(book: dict, page: int, panel: int) -> np.ndarray:
    return _decode(book["images"][book["frames"][page]["srcs"][panel]])


def test_each_page_shows_exactly_its_own_pictures_and_sends_each_picture_once():
    rng = np.random.default_rng(0)
    same = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    pics = [rng.integers(0, 256, (5, 7, 3), dtype=np.uint8) for _ in range(3)]
    pages = [flip.Page(f"{i}", f"page {i}", [flip.png(same), flip.png(p)]) for i, p in enumerate(pics)]
    book = flip.book(pages, panels=["same", "own"], label="x")
    assert len(book["images"]) == 4  # the shared picture once, three own pictures
    for i, p in enumerate(pics):
        assert np.array_equal(_shown(book, i, 0), same) and np.array_equal(_shown(book, i, 1), p)
        assert book["frames"][i]["title"] == f"page {i}" and book["frames"][i]["value"] == f"{i}"
    assert book["aspects"] == [pytest.approx(7 / 5, abs=1e-3)] * 2
    other = flip.book(pages[:2], panels=["same", "own"], label="x")
    assert other["id"] != book["id"]  # new pages are new to the browser (it opens them at the remembered page)
    assert flip.book(pages, panels=["same", "own"], label="x")["id"] == book["id"]


def test_a_page_needs_one_picture_per_panel():
    with pytest.raises(ValueError):
        flip.book([flip.Page("0", "t", [flip.png(np.zeros((2, 2, 3), np.uint8))])], panels=["a", "b"], label="x")


@pytest.mark.slow
def test_mae_pages_show_the_reconstruction_at_their_own_ratio():
    from dataclasses import replace

    from vizcore.analysis import mae
    from vizcore.ui import cache
    from vizcore.ui import mae_player as player
    from vizcore.ui.mae_views import Masking

    spec = "bundled:tiny_mae"
    image, key = next(iter(cache.samples().values()))
    m = Masking(0.75, "random", 3)
    outs = player.reconstructions(spec, True, key, [image], m)
    book = player.panels_book(outs, "MAE reconstruction of <b>x</b>", m, 64)
    assert [f["value"] for f in book["frames"]] == [f"{r:.2f}" for r in player.RATIOS]
    for i in (0, 5, player.DEFAULT, 19):
        r, title = player.RATIOS[i], book["frames"][i]["title"]
        assert title.startswith("MAE reconstruction of &lt;b&gt;x&lt;/b&gt;")  # names are text, never markup
        assert f"mask ratio {r:.2f} · {mae.kept_count(64, r)} patches kept (of 64) · random · seed 3" in title
        own = cache.reconstruction(spec, True, key, [image], replace(m, ratio=r))
        for k in range(4):
            assert np.array_equal(_shown(book, i, k), render.as_uint8(own.panels[k][0]))
    assert "nothing hidden" in book["frames"][0]["title"]
