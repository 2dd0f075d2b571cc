"""Figures and pixel rendering: math properties of `render`, structure of every `figures` function."""

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
from vizcore.errors import InputError
from vizcore.export import render

GRID = (8, 8)


@pytest.fixture
def image() -> np.ndarray:
    """(3, 64, 64) in [0, 1], like what the bundled model sees."""
    return np.random.default_rng(0).random((3, 64, 64), dtype=np.float32)


@pytest.fixture
def grid() -> np.ndarray:
    return np.random.default_rng(1).random(GRID)


def _colorbar_titles(fig: go.Figure) -> list[str]:
    titles = [t.colorbar.title.text for t in fig.data if isinstance(t, go.Heatmap) and t.coloraxis is None]
    if fig.layout.coloraxis.colorbar.title.text:
        titles.append(fig.layout.coloraxis.colorbar.title.text)
    return titles


def _assert_titled(fig: go.Figure) -> None:
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text.strip()


# --- render ---------------------------------------------------------------------------------------------------


def test_upsample_nearest_is_kron_blocks():
    g = np.array([[0.1, 0.9], [0.4, 0.2]])
    np.testing.assert_array_equal(render.upsample(g, (4, 4), "nearest"), np.kron(g, np.ones((2, 2))).astype(np.float32))


def test_upsample_bilinear_stays_in_range_and_handles_odd_sizes(grid):
    up = render.upsample(torch.as_tensor(grid), (61, 70))
    assert up.shape == (61, 70)
    assert grid.min() - 1e-6 <= up.min() and up.max() <= grid.max() + 1e-6


def test_upsample_rejects_unknown_interpolation(grid):
    with pytest.raises(InputError, match="interpolation"):
        render.upsample(grid, (16, 16), "cubic")


@pytest.mark.parametrize("name", render.COLORSCALES)
def test_colorize_maps_min_and_max_to_the_ends_of_the_scale(name):
    lut = render._lut(name)
    values = np.array([[2.0, 5.0], [3.0, 7.0]])
    rgb = render.colorize(values, name)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    np.testing.assert_array_equal(rgb[0, 0], lut[0])
    np.testing.assert_array_equal(rgb[1, 1], lut[-1])


def test_colorize_constant_input_is_the_first_colour():
    rgb = render.colorize(np.full((3, 3), 0.5))
    assert (rgb == render._lut("Inferno")[0]).all()


def test_unknown_colorscale_is_an_input_error():
    with pytest.raises(InputError, match="colour scale"):
        render.colorize(np.eye(2), "NotAScale")


def test_overlay_opacity_zero_is_the_image_and_one_is_the_map(image, grid):
    rgb = render.as_uint8(image)
    np.testing.assert_array_equal(render.overlay(image, grid, opacity=0.0), rgb)
    heat = render.colorize(render.upsample(grid, (64, 64), "nearest"), "Viridis")
    np.testing.assert_array_equal(render.overlay(rgb, grid, opacity=1.0, colorscale="Viridis",
                                                 interpolation="nearest"), heat)


def test_as_uint8_accepts_chw_float_hwc_uint8_and_gray(image):
    rgb = render.as_uint8(torch.from_numpy(image))
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(render.as_uint8(rgb), rgb)
    assert render.as_uint8(np.zeros((5, 7))).shape == (5, 7, 3)
    with pytest.raises(InputError, match="one image"):
        render.as_uint8(np.zeros((2, 3, 8, 8)))


def test_to_png_round_trips_and_scales_small_images(image):
    rgb = render.overlay(image, np.eye(8))
    same = np.asarray(Image.open(io.BytesIO(render.to_png(rgb, scale=1))))
    np.testing.assert_array_equal(same, rgb)
    big = Image.open(io.BytesIO(render.to_png(rgb)))
    assert min(big.size) >= 256 and big.size == (256, 256)
    np.testing.assert_array_equal(np.asarray(big)[::4, ::4], rgb)
    gray = Image.open(io.BytesIO(render.to_png(np.zeros((300, 400), np.uint8))))
    assert gray.size == (400, 300)


def test_mask_overlay_keeps_inside_and_darkens_outside(image):
    rgb = render.as_uint8(image)
    mask = np.zeros(GRID, bool)
    mask[2:4, 5] = True
    out = render.mask_overlay(image, mask)
    inside = np.kron(mask, np.ones((8, 8), bool))
    np.testing.assert_array_equal(out[inside], rgb[inside])
    assert (out[~inside] <= rgb[~inside]).all() and out[~inside].mean() < rgb[~inside].mean()


# --- figures --------------------------------------------------------------------------------------------------


def test_attention_overlay(image, grid):
    fig = figures.attention_overlay(torch.from_numpy(image), torch.from_numpy(grid), title="where CLS looks",
                                    patch_size=(8, 8), highlight=(2, 3))
    _assert_titled(fig)
    assert [type(t) for t in fig.data] == [go.Image, go.Heatmap]
    heat = fig.data[1]
    assert np.asarray(heat.z).shape == GRID and heat.zsmooth == "best"
    assert _colorbar_titles(fig) == ["attention"]
    assert "patch" in heat.hovertemplate
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]
    assert {s.x0 for s in fig.layout.shapes} == {3 * 8 - 0.5}


def test_attention_overlay_nearest_and_bad_highlight(image, grid):
    fig = figures.attention_overlay(image, grid, title="t", interpolation="nearest")
    assert fig.data[1].zsmooth is False
    with pytest.raises(InputError, match="outside"):
        figures.attention_overlay(image, grid, title="t", highlight=(8, 0))


@pytest.mark.parametrize("scale", ["figure", "head"])
def test_head_maps(image, scale):
    maps = torch.rand(6, *GRID)
    fig = figures.head_maps(image, maps, title="per head", layer=3, cols=4, scale=scale)
    _assert_titled(fig)
    assert len(fig.data) == 12 and sum(isinstance(t, go.Heatmap) for t in fig.data) == 6
    assert [a.text for a in fig.layout.annotations] == [f"head {h}" for h in range(6)]
    assert len(_colorbar_titles(fig)) == 1 and "attention" in _colorbar_titles(fig)[0]
    assert ("shared" if scale == "figure" else "min-max") in fig.layout.title.text
    assert fig.layout.height == 2 * figures.PANEL_HEIGHT + 120


@pytest.mark.parametrize("shape", [(4, 4, 8, 8), (12, 12, 14, 14)])
def test_layers_heads_overview(shape):
    L, H, gh, gw = shape
    fig = figures.layers_heads_overview(np.random.default_rng(0).random(shape), title="all layers")
    _assert_titled(fig)
    assert len(fig.data) == 1
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape == (L * (gh + 1) - 1, H * (gw + 1) - 1)
    assert np.nanmin(z) == 0.0 and np.nanmax(z) == 1.0  # tiles min-max scaled
    assert list(fig.layout.xaxis.ticktext) == [f"head {h}" for h in range(H)]
    assert list(fig.layout.yaxis.ticktext) == [f"layer {i}" for i in range(L)]
    assert "min-max" in fig.layout.title.text and _colorbar_titles(fig)
    assert len(fig.to_json()) < 600_000


def test_mass_masks(image):
    masks = torch.zeros(3, *GRID, dtype=torch.bool)
    masks[0, :2] = True  # 16 of 64 patches
    fig = figures.mass_masks(image, masks, mass=0.6, title="masks")
    _assert_titled(fig)
    assert len(fig.data) == 3 and all(isinstance(t, go.Image) for t in fig.data)
    assert fig.layout.annotations[0].text == "head 0: 16 patches (25%)"
    assert "60%" in fig.layout.title.text


def test_prefix_share_heatmap():
    share = np.random.default_rng(0).random((4, 3, 2))
    fig = figures.prefix_share_heatmap(share, ("cls", "reg1"), title="prefix share")
    _assert_titled(fig)
    assert len(fig.data) == 2 and [a.text for a in fig.layout.annotations] == ["cls", "reg1"]
    assert fig.layout.xaxis.title.text == "head" and fig.layout.yaxis.title.text == "layer"
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)
    assert "share" in _colorbar_titles(fig)[0]
    with pytest.raises(InputError, match="prefix names"):
        figures.prefix_share_heatmap(share, ("cls",), title="t")


def test_predictions_bar_highest_on_top():
    top = [(7, "dog", 0.2), (3, "cat", 0.7), (1, "car", 0.1)]
    fig = figures.predictions_bar(top, title="top-3")
    _assert_titled(fig)
    (bar,) = fig.data
    assert list(bar.y) == ["cat", "dog", "car"] and fig.layout.yaxis.autorange == "reversed"
    assert list(bar.text) == ["70.0%", "20.0%", "10.0%"]
    assert fig.layout.xaxis.title.text == "probability" and tuple(fig.layout.xaxis.range) == (0, 1)
    dup = figures.predictions_bar([(134, "crane", 0.5), (517, "crane", 0.5)], title="t")
    assert len(set(dup.data[0].y)) == 2


def test_figures_reject_batches(image):
    with pytest.raises(InputError, match="Index the batch"):
        figures.head_maps(image, np.zeros((1, 4, *GRID)), title="t", layer=0)


def test_mae_figures_have_titles_axes_and_legends():
    import torch

    from vizcore import figures

    img = torch.rand(3, 64, 64)
    fig = figures.mae_panels(img, img, img, img, title="T")
    assert len(fig.data) == 4 and fig.layout.title.text.startswith("T")
    mask = torch.zeros(8, 8)
    mask[:4] = 1
    fig = figures.patch_error_figure(torch.rand(8, 8), mask)
    assert fig.layout.xaxis.title.text == "patch column" and len(fig.data[1].x) == 32  # dots on visible patches
    fig = figures.error_vs_ratio_figure([0.5, 0.75], {"random": [0.01, 0.02], "grid": [0.01, 0.03]})
    assert [t.name for t in fig.data] == ["random", "grid"] and fig.layout.yaxis.title.text
    fig = figures.strategies_figure({"random": (img, img, 16), "block": (img, img, 16)})
    assert len(fig.data) == 4 and "16 kept" in fig.layout.annotations[0].text


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
    assert _closest_pair(CATEGORICAL) >= 18  # 12 classes
    for vision in _MACHADO:
        assert _closest_pair(ten, vision) >= 10, vision
    white = _lab(["#FFFFFF"])[0]
    assert deltaE_ciede2000(_lab(CATEGORICAL), np.broadcast_to(white, (len(CATEGORICAL), 3))).min() >= 20
    scatter = figures.latent_scatter(np.random.default_rng(0).normal(size=(40, 2)), np.arange(40) % 10,
                                     [str(d) for d in range(10)], title="digits")
    assert [t.marker.color for t in scatter.data] == list(ten)  # the VAE page colours digits with it
