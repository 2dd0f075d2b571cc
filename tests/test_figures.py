"""Figures and pixel rendering: math properties of `render`, structure of every `figures` function."""

from __future__ import annotations

import io

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


def test_grey_is_the_bt601_luminance_in_three_channels():
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [10, 20, 30]]], np.uint8)
    y = [76, 150, 29, 255, 18]  # 0.299 R + 0.587 G + 0.114 B, rounded: 76.2, 149.7, 29.1, 255, 18.2
    np.testing.assert_array_equal(render.grey(pixels), np.repeat(np.array([y], np.uint8)[..., None], 3, axis=-1))
    np.testing.assert_array_equal(render.grey(render.grey(pixels)), render.grey(pixels))


def test_overlay_blends_the_map_over_the_image_as_given(image, grid):
    """Over `grey(image)` every pixel lies between its bar colour and a grey: it keeps the bar colour's hue."""
    grey = render.grey(image)
    np.testing.assert_array_equal(render.overlay(grey, grid, opacity=0.0), grey)
    np.testing.assert_array_equal(render.overlay(image, grid, opacity=0.0), render.as_uint8(image))
    heat = render.colorize(render.upsample(grid, (64, 64), "nearest"), "Inferno").astype(np.float64)
    by_hand = np.rint(0.4 * grey + 0.6 * heat)
    np.testing.assert_array_equal(render.overlay(grey, grid, opacity=0.6, interpolation="nearest"), by_hand)
    rgb = render.as_uint8(image)
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
    assert list(fig.layout.yaxis.ticktext) == ["cat  <b>70.0%</b>", "dog  <b>20.0%</b>", "car  <b>10.0%</b>"]
    assert list(fig.layout.yaxis.tickvals) == list(bar.y)
    assert fig.layout.xaxis.title.text == "probability" and tuple(fig.layout.xaxis.range) == (0, 1)
    dup = figures.predictions_bar([(134, "crane", 0.5), (517, "crane", 0.5)], title="t")
    assert len(set(dup.data[0].y)) == 2


def test_predictions_bar_labels_are_short_plain_and_tell_small_ones_apart():
    top = [(1, "dragonfly, darning needle, devil's darning needle", 0.9), (2, "<i>x</i> & co", 0.0009),
           (3, "maillot", 0.00051), (4, "maillot, tank suit", 0.00005)]
    fig = figures.predictions_bar(top, title="t")
    assert list(fig.layout.yaxis.ticktext) == ["dragonfly  <b>90.0%</b>", "&lt;i&gt;x&lt;/i&gt; &amp; co  <b>0.09%</b>",
                                               "maillot (3)  <b>0.051%</b>", "maillot (4)  <b>&lt;0.01%</b>"]
    assert fig.data[0].customdata[0] == "dragonfly, darning needle, devil&#x27;s darning needle"  # all, on hover


def _built_as_plotly_would(fig: go.Figure) -> dict:
    """`fig` rebuilt through plotly's validating constructor (template set with `update_layout`, as it was before
    vizcore built its attention figures from dicts)."""
    spec = fig.to_dict()
    template = spec["layout"].pop("template")
    assert template == fig.layout.template.to_plotly_json()
    out = go.Figure(spec)
    out.update_layout(template="plotly_white")
    return out.to_dict()


def test_attention_figures_built_from_dicts_are_the_figures_plotly_builds(image, grid):
    """The attention figures are built as finished dicts (fast) with the plotly_white template: each is exactly the
    figure plotly's validating setters give."""
    rng = np.random.default_rng(3)
    built = [
        figures.attention_overlay(image, grid, title="a", patch_size=(8, 8), highlight=(2, 3), pickable=True,
                                  uniform=1 / 65),
        figures.attention_overlay(image, grid, title="b", scale="absolute", uniform=0.9, subtitle="s"),
        figures.mass_masks(image, rng.random((5, *GRID)) > 0.5, mass=0.6, title="masks", cols=2),
        figures.prefix_share_heatmap(rng.random((4, 3, 2)), ("cls", "reg1"), title="share", uniform=1 / 65),
        figures.layers_heads_overview(rng.random((3, 4, *GRID)), title="all", scale="absolute", uniform=1 / 65),
        figures.predictions_bar([(1, "a", 0.6), (2, "b", 0.3)], title="top", num_classes=8),
        figures.predictions_bar([(1, "a", 0.6)], title="top"),
    ]
    for fig in built:
        assert fig.to_dict() == _built_as_plotly_would(fig), fig.layout.title.text
    white = go.Figure().update_layout(template="plotly_white").layout.template.to_plotly_json()
    assert all(fig.layout.template.to_plotly_json() == white for fig in built)


def test_grid_layouts_are_make_subplots_layouts():
    from plotly.subplots import make_subplots

    from vizcore.figures._common import _grid_layout

    for rows, cols, titles, kw in [(1, 1, None, {}), (2, 3, ["a", "", "c", "d", "e"], {"horizontal_spacing": 0.02}),
                                   (1, 2, ["x", "y"], {"shared_yaxes": True})]:
        want = make_subplots(rows=rows, cols=cols, subplot_titles=titles, **kw).layout.to_plotly_json()
        want.pop("template")
        assert _grid_layout(rows, cols, titles, **kw) == want
        assert _grid_layout(rows, cols, titles, **kw) is not _grid_layout(rows, cols, titles, **kw)  # a new dict


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
