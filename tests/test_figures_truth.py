"""Figures that show what is true (issue 13): colours on screen (§1), scales with their reference (§4), downloads
that are the picture on screen (§3), categories in clearly distinct colours (§9)."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

from vizcore import figures
from vizcore.export import render

GRID = (8, 8)


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).random((3, 64, 64), dtype=np.float32)  # (3, 64, 64) as test_figures' image


@pytest.fixture
def grid() -> np.ndarray:
    return np.random.default_rng(1).random(GRID)  # as test_figures' grid


# --- colours on screen (issue 13 §1) ---------------------------------------------------------------------------

PLACEHOLDER = re.compile(r"#0000(?:0[1-9]|[1-3][0-9]|40)")  # what Streamlit's frontend rewrites in a figure spec


@pytest.mark.parametrize("scale", ["Inferno", "Magma"])
def test_figures_never_send_a_colour_streamlit_rewrites(image, grid, scale):
    """Inferno's and Magma's first stop #000004 drew pink in the app; every figure must avoid the placeholders."""
    built = [
        figures.attention_overlay(image, grid, title="t", colorscale=scale),
        figures.head_maps(image, np.random.default_rng(0).random((4, *GRID)), title="t", layer=0, colorscale=scale),
        figures.layers_heads_overview(np.random.default_rng(0).random((2, 2, *GRID)), title="t", colorscale=scale),
        figures.prefix_share_heatmap(np.random.default_rng(0).random((2, 2, 1)), ("cls",), title="t",
                                     colorscale=scale),
        figures.cka_figure(np.eye(3), title="t", colorscale=scale),
        figures.similarity_grid_figure(np.random.default_rng(0).random((2, 2, 2, 2)), title="t", colorscale=scale),
        figures.offset_similarity_figure(np.random.default_rng(0).random((3, 3)), title="t", colorscale=scale),
    ]
    for fig in built:
        assert not PLACEHOLDER.search(fig.to_json()), fig.layout.title.text


def test_screen_safe_moves_placeholders_in_any_trace_or_text():
    fig = go.Figure(go.Scatter(x=[0], y=[0], marker_color="#000004", hovertemplate="row #000012<extra></extra>"))
    fig.update_layout(coloraxis=dict(colorscale="Magma"), template="plotly_white")  # after `import streamlit` the
    # default template is Streamlit's own, whose placeholders its theme fills in on purpose
    figures.screen_safe(fig)
    assert fig.data[0].marker.color == "#010004"
    spec = fig.to_plotly_json()
    spec["layout"].pop("template", None)  # the template is Streamlit's or plotly's, not the figure's content
    assert not PLACEHOLDER.search(json.dumps(spec, default=str))
    assert fig.data[0].hovertemplate.replace("\u2060", "") == "row #000012<extra></extra>"  # reads the same


def test_downloads_use_exactly_the_colours_on_screen():
    """The PNG's darkest colour is the figure's first stop (#010004), not plotly's #000004."""
    first = render.check_colorscale("Inferno")[0][1]
    assert first == "#010004"
    np.testing.assert_array_equal(render._lut("Inferno")[0], [1, 0, 4])
    rgb = render.colorize(np.array([[0.0, 1.0]]), "Inferno")
    assert tuple(rgb[0, 0]) == (1, 0, 4)


# --- scales that do not invent structure (issue 13 §4) ---------------------------------------------------------

def _bar(fig: go.Figure):
    heat = [t for t in fig.data if isinstance(t, go.Heatmap) and t.coloraxis is None]
    return heat[-1].colorbar if heat else fig.layout.coloraxis.colorbar


def test_attention_colour_bars_mark_the_uniform_level(image):
    grid = 1 / 64 + np.random.default_rng(0).normal(0, 0.004, GRID)
    fig = figures.attention_overlay(image, grid, title="t", uniform=1 / 64)
    bar = _bar(fig)
    assert "uniform 1/64" in bar.ticktext and 1 / 64 in bar.tickvals
    heads = figures.head_maps(image, np.stack([grid, grid * 1.1]), title="t", layer=0, uniform=1 / 64)
    assert "uniform 1/64" in _bar(heads).ticktext
    overview = figures.layers_heads_overview(np.stack([[grid, grid]]), title="t", scale="absolute", uniform=1 / 64)
    assert "uniform 1/64" in _bar(overview).ticktext
    far = figures.attention_overlay(image, grid + 1.0, title="t", uniform=1 / 64)  # uniform below the range
    assert "below" in _bar(far).title.text and "uniform 1/64" not in (_bar(far).ticktext or ())


def test_absolute_scale_starts_at_zero_so_a_flat_map_looks_flat(image):
    flat = np.full(GRID, 1 / 1369) * (1 + np.random.default_rng(0).uniform(-0.04, 0.04, GRID))
    stretched = figures.attention_overlay(image, flat, title="t", scale="map")
    absolute = figures.attention_overlay(image, flat, title="t", scale="absolute")
    assert stretched.data[1].zmin == pytest.approx(flat.min()) and stretched.data[1].zmax == pytest.approx(flat.max())
    assert absolute.data[1].zmin == 0 and absolute.data[1].zmax == pytest.approx(flat.max())
    assert "absolute" in absolute.layout.title.text and "min" in stretched.layout.title.text
    heads = figures.head_maps(image, np.stack([flat, flat]), title="t", layer=0, scale="absolute")
    assert heads.layout.coloraxis.cmin == 0
    tiles = figures.layers_heads_overview(np.stack([[flat, flat]]), title="t", scale="absolute")
    assert tiles.data[0].zmin == 0 and np.nanmax(np.asarray(tiles.data[0].z, dtype=float)) == pytest.approx(flat.max(),
                                                                                                           rel=1e-6)


def test_statistics_are_drawn_with_their_reference(image):
    bars = figures.predictions_bar([(3, "cat", 0.7), (1, "dog", 0.2)], title="t", num_classes=8)
    assert any("chance 1/8" in (a.text or "") for a in bars.layout.annotations)
    masks = torch.zeros(2, *GRID, dtype=torch.bool)
    fig = figures.mass_masks(image, masks, mass=0.6, title="t")
    assert "uniform attention would need 39 of 64" in fig.layout.title.text  # ceil(0.6 * 64)
    share = figures.prefix_share_heatmap(np.full((2, 2, 1), 0.1), ("cls",), title="t", uniform=1 / 65)
    assert "1/65" in share.layout.title.text


# --- downloads are the picture on screen (issue 13 §3) ---------------------------------------------------------

def _png_info(data: bytes) -> tuple[Image.Image, dict]:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im, dict(im.text)


def test_heads_download_is_the_grid_of_heads_with_colour_bar_title_and_model(image):
    from vizcore.export import picture

    heads = np.stack([np.full(GRID, 0.01), np.eye(8) * 0.3, np.fliplr(np.eye(8)) * 0.3, np.full(GRID, 0.02)])
    lo, hi = figures.color_range(heads, "map")
    lines = ["Tiny ViT (random weights) · scene 1", "colours stretched from the smallest to the largest value"]
    names = [f"head {h}" for h in range(4)]
    pic = picture.attention_picture(image, heads, title="CLS attention per head, layer 2", lines=lines, names=names,
                                    lo=lo, hi=hi, uniform=1 / 65)
    side = picture.GRID_PANEL_PX
    big = np.repeat(np.repeat(render.as_uint8(image), side // 64, 0), side // 64, 1)
    top = picture.header(pic.shape[1], "CLS attention per head, layer 2", lines).shape[0] + 12 + 28
    for h in range(4):  # every head's own overlay, on the shared colour range: not the mean of the heads
        x = 12 + h * (side + 12)
        expected = render.overlay(big, heads[h], lo=lo, hi=hi)
        np.testing.assert_array_equal(pic[top:top + side, x:x + side], expected)
    bar_x = 12 + 4 * (side + 12) + 16  # the colour bar: the scale's colours from top (high) to bottom (low)
    column = pic[:, bar_x + 4]
    lut = render._lut("Inferno")
    assert any((column == lut[-1]).all(1)) and any((column == lut[0]).all(1))
    im, text = _png_info(picture.png(pic, title="CLS attention per head, layer 2", lines=lines,
                                     model="Tiny ViT (random weights)"))
    assert text["Title"] == "CLS attention per head, layer 2" and "random weights" in text["Model"]
    assert im.width >= 4 * side  # each head at least as large as the app draws it (about 200 px)


def test_query_download_marks_the_query_patch(image, grid):
    from vizcore.export import picture

    pic = picture.attention_picture(image, grid, title="Where patch (2, 6) looks", lines=["m"], lo=0.0, hi=1.0,
                                    highlight=(2, 6))
    plain = picture.attention_picture(image, grid, title="Where patch (2, 6) looks", lines=["m"], lo=0.0, hi=1.0)
    differs = np.nonzero((pic != plain).any(-1))
    side = picture.PANEL_PX
    top = picture.header(pic.shape[1], "Where patch (2, 6) looks", ["m"]).shape[0] + 12
    rows, cols = (differs[0] - top) * 8 // side, (differs[1] - 12) * 8 // side
    assert set(rows) <= {1, 2, 3} and set(cols) <= {5, 6, 7}  # only the outline of patch (2, 6) and its edge
    assert pic.shape[0] - top >= side  # at least 768 px: more than the app draws (about 400)


def test_colour_bar_ticks_are_the_figure_s_ticks():
    ticks = render.colorbar_ticks(0.0, 0.02, 1 / 65)
    assert ("uniform 1/65" in [t for _, t in ticks]) and (0.0, "0") in ticks
    fig_ticks = figures.attention_overlay(np.zeros((3, 8, 8)), np.linspace(0, 0.02, 64).reshape(8, 8), title="t",
                                          uniform=1 / 65).data[1].colorbar
    assert list(fig_ticks.ticktext) == [t for _, t in ticks]


@pytest.mark.parametrize("lo, hi", [(0.10200, 0.10210), (0.0, 0.02), (0.5, 0.5001), (-3e-7, 4e-7), (0.2, 0.95),
                                    (1e-12, 2e-12), (1e6, 1e6 + 1), (0.0102, 0.0102 + 1e-9)])
def test_colour_bar_ticks_read_apart_on_any_range(lo, hi):
    ticks = render.colorbar_ticks(lo, hi)
    labels = [t for _, t in ticks]
    assert len(ticks) >= 2 and len(set(labels)) == len(labels), labels  # never the same label twice
    for value, text in ticks:
        assert lo - 1e-12 <= value <= hi + 1e-12 and abs(float(text) - value) <= 1e-6 * max(abs(lo), abs(hi))
        assert len(text) <= 16, text


@pytest.mark.parametrize("lo, hi", [(-1e308, 1e308), (0.0, 5e-324), (0.3, 0.30000000000000004), (1e16, 1e16 + 2),
                                    (1.0, 1.0), (2.0, 1.0), (float("nan"), 1.0), (0.0, float("inf"))])
def test_colour_bar_ticks_on_degenerate_ranges_are_few_and_distinct(lo, hi):
    labels = [t for _, t in render.colorbar_ticks(lo, hi, 0.5)]
    assert len(set(labels)) == len(labels) and all(len(t) <= 16 for t in labels), labels


# --- categories in clearly distinct colours (issue 13 §9) -------------------------------------------------------

_MACHADO = {  # Machado, Oliveira & Fernandes 2009, severity 1.0, on linear RGB
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}


def _lab(colours, vision: str = "normal") -> np.ndarray:
    from skimage.color import rgb2lab

    rgb = np.array([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours])
    if vision != "normal":
        lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        lin = np.clip(lin @ _MACHADO[vision].T, 0, 1)
        rgb = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
    return rgb2lab(np.clip(rgb, 0, 1)[None])[0]


def _over_white(colour: str, alpha: float) -> str:
    """`colour` drawn at `alpha` over white, rounded as the point map blends (half up)."""
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{int(np.floor(255 + (c - 255) * alpha + 0.5)):02X}" for c in rgb)


def _closest_pair(colours, vision: str = "normal") -> float:
    from skimage.color import deltaE_ciede2000

    lab = _lab(colours, vision)
    i, j = np.triu_indices(len(lab), 1)
    return float(deltaE_ciede2000(lab[i], lab[j]).min())


def test_category_palette_is_clearly_distinct_for_ten_classes_and_more():
    from skimage.color import deltaE_ciede2000

    from vizcore.figures._common import CATEGORICAL

    ten = CATEGORICAL[:10]  # the digits: plotly's Safe palette had 2/7 and 1/8 in one hue (closest pair 15.0)
    assert _closest_pair(ten) >= 20
    assert _closest_pair(CATEGORICAL[:12]) >= 18  # 12 classes
    assert len(set(CATEGORICAL)) == 20 and _closest_pair(CATEGORICAL) >= 12  # Kelly's 20: 10.0, tab20: 12.1
    drawn = [_over_white(c, 0.8) for c in CATEGORICAL]  # as the projector's point map draws them
    assert _closest_pair(drawn) >= 12
    for vision in _MACHADO:
        assert _closest_pair(ten, vision) >= 10, vision
        assert _closest_pair(CATEGORICAL, vision) >= 7, vision  # Kelly's 20: 0.4-0.7, tab20: 0.8-2.5
        assert _closest_pair(drawn, vision) >= 7, vision  # the first 12 alone: 7.3
    white = _lab(["#FFFFFF"])[0]
    assert deltaE_ciede2000(_lab(CATEGORICAL), np.broadcast_to(white, (len(CATEGORICAL), 3))).min() >= 20
    scatter = figures.latent_scatter(np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 10,
                                     [str(d) for d in range(10)], title="digits")
    assert [t.marker.color for t in scatter.data] == list(ten)  # the VAE page colours digits with it
