"""Flip-books (pictures switched in the browser): every page's picture is exactly the array it was built from, and
every page's title names that page's own settings (issue 13: what is written describes what is shown)."""

from __future__ import annotations

import base64
import html
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


def test_a_legend_is_sent_once_and_shown_with_its_own_page():
    rng = np.random.default_rng(1)
    pics = [rng.integers(0, 256, (4, 4, 3), dtype=np.uint8) for _ in range(3)]
    bar = rng.integers(0, 256, (30, 8, 3), dtype=np.uint8)
    pages = [flip.Page("0", "a", [flip.png(pics[0])], legend=flip.png(bar)),
             flip.Page("1", "b", [flip.png(pics[1])], legend=flip.png(bar)), flip.Page("2", "c", [flip.png(pics[2])])]
    book = flip.book(pages, panels=["p"], label="x")
    assert len(book["images"]) == 4  # the shared legend once
    assert np.array_equal(_decode(book["images"][book["frames"][1]["legend"]]), bar)
    assert book["frames"][2]["legend"] == -1  # no legend: none shown
    assert flip.book(pages[:2], panels=["p"], label="x")["id"] != flip.book(
        [_other_legend(p) for p in pages[:2]], panels=["p"], label="x")["id"]


def _other_legend(page: flip.Page) -> flip.Page:
    from dataclasses import replace

    return replace(page, legend=flip.png(np.zeros((30, 8, 3), np.uint8)))


@pytest.mark.parametrize("scale", ["map", "absolute"])
def test_per_head_pages_show_every_head_of_their_own_layer_on_the_layer_s_colour_scale(scale):
    from vizcore.ui import attention_player as player

    rng = np.random.default_rng(2)
    grids = rng.random((3, 2, 4, 4)) / 16  # (L, H, gh, gw)
    grids[1, 0] = 1 / 17  # layer 1, head 0: exactly uniform attention
    image = rng.random((3, 32, 32))
    book = player.head_book(image, grids, query="CLS", colorscale="Viridis", opacity=0.5, interpolation="bilinear",
                            scale=scale, uniform=1 / 17)
    assert [f["value"] for f in book["frames"]] == ["0", "1", "2"] and book["label"] == "Layer"
    base = player.base_image(image)
    assert base.shape == (player.HEAD_PX, player.HEAD_PX, 3)  # 32 px enlarged by a whole factor
    for layer in range(3):
        lo, hi = float(grids[layer].min()) if scale == "map" else 0.0, float(grids[layer].max())
        assert player.head_range(grids[layer], scale) == pytest.approx((lo, hi))
        title = book["frames"][layer]["title"]
        assert title.startswith(f"CLS attention per head, layer {layer}<small>{player.SCALE_TEXT[scale]}: ")
        assert f"{lo:.3g} to {hi:.3g} · uniform attention 1/17 = 0.0588" in title
        assert player.SCALE_TEXT[scale] in title
        for h in range(2):
            want = render.overlay(base, grids[layer, h], opacity=0.5, colorscale="Viridis", lo=lo, hi=hi)
            assert np.array_equal(_shown(book, layer, h), want)
        bar = _decode(book["images"][book["frames"][layer]["legend"]])
        assert bar.shape[0] > player.BAR_PX  # a colour bar with its labels
    assert "Head 0 is within 0% of uniform attention" in book["frames"][1]["title"]
    advice = "absolute scale (from 0) they look as flat" if scale == "absolute" else "the absolute scale shows"
    assert advice in book["frames"][1]["title"]  # what the scale on screen does to a flat map
    assert "uniform attention:" not in book["frames"][0]["title"]
    assert book["frames"][0]["legend"] != book["frames"][2]["legend"]  # each layer its own range


def test_the_per_head_download_holds_every_layer():
    from vizcore.ui import attention_player as player

    grids = np.random.default_rng(3).random((3, 5, 2, 3))  # 3 layers x 5 heads, a 2 x 3 grid
    one = player.every_layer_picture(np.zeros((3, 16, 24)), grids[:1], query="CLS", colorscale="Inferno",
                                     opacity=0.6, interpolation="nearest", scale="map", uniform=1 / 7, lines=["m"])
    every = player.every_layer_picture(np.zeros((3, 16, 24)), grids, query="CLS", colorscale="Inferno",
                                       opacity=0.6, interpolation="nearest", scale="map", uniform=1 / 7, lines=["m"])
    assert every.shape[1] == one.shape[1] and every.shape[0] > 2.5 * (one.shape[0] - 80)  # a band per layer
    assert player.base_image(np.zeros((3, 512, 384))).shape == (player.HEAD_PX, player.HEAD_PX * 3 // 4, 3)  # shrunk


def test_a_large_models_every_layer_download_draws_each_head_as_the_flip_book_does():
    """A ViT-B's 12 x 12 heads at the grid size made an 18,583 x 2,042 px PNG (36.6 MB, about 24 s), a 518-px
    DINOv2's 33 Mpx: past BIG_BOOK panels each head is drawn at HEAD_PX, as the flip-book shows it, whatever the
    input size."""
    from vizcore.ui import attention_player as player

    def width(layers: int, heads: int, side: int = 224) -> int:
        grids = np.random.default_rng(0).random((layers, heads, 2, 2))
        return player.every_layer_picture(np.zeros((3, side, side)), grids, query="CLS", colorscale="Inferno",
                                          opacity=0.6, interpolation="nearest", scale="map", uniform=1 / 4,
                                          lines=[]).shape[1]

    heads = 3  # 3 heads a row either way: only the panel size changes
    at_the_limit, past_it = width(player.BIG_BOOK // heads, heads), width(player.BIG_BOOK // heads + 1, heads)
    assert (player.BIG_BOOK // heads + 1) * heads == player.BIG_BOOK + 1
    assert at_the_limit > 448 * heads and past_it < 448 * heads  # 224 px enlarged twice, then HEAD_PX
    assert width(12, 6, side=518) == width(12, 6, side=224)  # a 518-px input: the same HEAD_PX panels


def test_the_download_says_what_the_screen_says(monkeypatch):
    """Each band of the every-layer PNG carries its page's scale line, its near-uniform note and its colour bar's
    title, as the flip-book page does."""
    from vizcore.ui import attention_player as player

    seen = []
    real = player.picture.attention_picture

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(player.picture, "attention_picture", spy)
    grids = np.random.default_rng(3).random((2, 2, 2, 3))
    grids[1] = 1 / 7  # layer 1: every head exactly uniform
    player.every_layer_picture(np.zeros((3, 16, 24)), grids, query="CLS", colorscale="Inferno", opacity=0.6,
                               interpolation="nearest", scale="map", uniform=1 / 7, lines=["m"])
    book = player.head_book(np.zeros((3, 16, 24)), grids, query="CLS", colorscale="Inferno", opacity=0.6,
                            interpolation="nearest", scale="map", uniform=1 / 7)
    assert [k["bar_label"] for k in seen] == ["CLS attention"] * 2
    for layer, kwargs in enumerate(seen):
        for line in kwargs["lines"]:
            assert html.escape(line) in book["frames"][layer]["title"]
    assert len(seen[0]["lines"]) == 1 and "uniform attention:" in seen[1]["lines"][1]
