"""The projector's point map on the server side: what `figures.point_map` builds is what the browser draws
(colours, legend, hover, search matches, contours, thumbnail sheets), and `ui.pointmap.selection` trusts nothing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vizcore.errors import InputError
from vizcore.export import render
from vizcore.figures.pointmap import ALPHA, DIM_ALPHA, HOVER_MAX, NO_IMAGE, point_map, thumbnail_sheet
from vizcore.figures.projector import category_style
from vizcore.ui.pointmap import MapSelection, selection


def _rgb(colour: str) -> list[int]:
    return [int(colour[i:i + 2], 16) for i in (1, 3, 5)]


def test_categories_get_the_projector_palette_and_a_legend_with_counts():
    codes = np.array([0, 1, 2, 1, 1, 11, 2])
    names = [f"c{k}" for k in range(12)]
    pm = point_map(np.random.default_rng(0).normal(size=(7, 2)), title="t", categories=codes, category_names=names)
    assert pm.xy.dtype == np.float32 and pm.rgba.shape == (7, 4) and pm.codes.dtype == np.uint16
    for i, k in enumerate(codes):
        assert pm.rgba[i].tolist() == [*_rgb(category_style(int(k), 12)[0]), ALPHA]
    assert [(it["code"], it["count"]) for it in pm.legend["items"]] == [(0, 1), (1, 3), (2, 2), (11, 1)]  # no empty
    assert pm.legend["names"] == names and pm.legend["note"] == ""


def test_twenty_categories_get_twenty_colours_and_more_say_that_colours_repeat():
    """With 20 classes the 12-colour palette drew classes 3 and 15 alike, and the map draws no marker symbols."""
    twenty = point_map(np.arange(40.0).reshape(20, 2), title="t", categories=np.arange(20),
                       category_names=[str(k) for k in range(20)])
    assert len({tuple(c) for c in twenty.rgba.tolist()}) == 20 and twenty.legend["note"] == ""
    pm = point_map(np.arange(42.0).reshape(21, 2), title="t", categories=np.arange(21),
                   category_names=[str(k) for k in range(21)])
    assert pm.rgba[20].tolist() == pm.rgba[0].tolist()
    assert pm.legend["note"].startswith("21 categories, 20 distinct colours: colours repeat.")


def test_numbers_get_viridis_from_min_to_max_and_nan_the_lowest():
    vals = np.array([2.0, 4.0, 3.0, np.nan])
    pm = point_map(np.arange(8.0).reshape(4, 2), title="t", values=vals, color_title="age")
    lut = render.colorize(np.array([0.0, 1.0]), "Viridis")
    assert pm.rgba[0, :3].tolist() == lut[0].tolist() and pm.rgba[1, :3].tolist() == lut[1].tolist()
    assert pm.rgba[3, :3].tolist() == [187, 187, 187] and pm.legend["note"] == "grey: no value (1 point)"
    assert pm.legend["kind"] == "scale" and (pm.legend["min_label"], pm.legend["max_label"]) == ("2", "4")
    assert pm.legend["stops"][0][1].lower() == render.colorscale_stops("Viridis")[0][1].lower()
    flat = point_map(np.arange(4.0).reshape(2, 2), title="t", values=[5.0, 5.0])  # one value: no division by 0
    assert (flat.rgba[:, :3] == render.colorize(np.array([0.0]), "Viridis")[0]).all()


def test_a_search_dims_the_rest_and_outlines_the_matches():
    pm = point_map(np.arange(10.0).reshape(5, 2), title="t", categories=[0] * 5, category_names=["a"],
                   highlight=[False, True, False, True, False])
    assert pm.matches.tolist() == [1, 3] and pm.matches.dtype == np.uint32
    assert pm.rgba[:, 3].tolist() == [DIM_ALPHA, ALPHA, DIM_ALPHA, ALPHA, DIM_ALPHA]
    none = point_map(np.arange(10.0).reshape(5, 2), title="t", highlight=[False] * 5)
    assert none.matches is None and (none.rgba[:, 3] == ALPHA).all()  # nothing matched: nothing dimmed


def test_hover_text_stops_at_its_limit():
    small = point_map(np.zeros((3, 2)), title="t", hover=["a", "b", "c"])
    assert small.hover == ("a", "b", "c")
    n = HOVER_MAX + 1
    big = point_map(np.zeros((n, 2), np.float32), title="t", hover=np.full(n, "x", dtype=object))
    assert big.hover is None


def test_thumbnail_sheet_puts_image_k_in_cell_k():
    ims = [np.full((10, 6, 3), v, np.uint8) for v in (0, 100, 200)] + [None, np.full((10, 6, 3), 50, np.uint8)]
    data = thumbnail_sheet(ims, side=10, columns=3, fmt="png")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "L"  # grey: one exact channel
    sheet = np.asarray(image)
    assert sheet.shape == (20, 30)
    for i, v in enumerate([0, 100, 200, None, 50]):  # row-major cells
        r, c = divmod(i, 3)
        if v is None:  # no image: light grey, crossed, not white
            cell = sheet[r * 10:(r + 1) * 10, c * 10:(c + 1) * 10]
            assert cell[0, 0] == cell[9, 0] == NO_IMAGE[1] and cell[5, 2] == NO_IMAGE[0]
            continue
        assert sheet[r * 10 + 5, c * 10 + 2] == v
        assert sheet[r * 10 + 5, c * 10 + 8] == 255  # right of a 6-px-wide image: white
    assert (sheet[10:, 20:] == 255).all()  # past the last image: white
    photo = [np.random.default_rng(0).integers(0, 255, (64, 48, 3), dtype=np.uint8)]
    jpeg = Image.open(io.BytesIO(thumbnail_sheet(photo, side=32, columns=16, fmt="jpeg")))
    assert jpeg.format == "JPEG" and jpeg.size == (512, 32)  # one row of 16 cells; the photo fitted to 24 x 32
    colour = Image.open(io.BytesIO(thumbnail_sheet(photo, side=32, columns=1, fmt="png")))
    assert colour.mode == "RGB"
    fitted = Image.fromarray(photo[0]).resize((24, 32), Image.Resampling.LANCZOS)
    assert (np.asarray(colour)[:, :24] == np.asarray(fitted)).all()
    with pytest.raises(ValueError, match="fmt"):
        thumbnail_sheet(photo, side=32, columns=16, fmt="gif")


def test_density_contours_lie_in_the_map():
    xy = np.random.default_rng(0).normal(size=(2000, 2))
    pm = point_map(xy, title="t", contours=True)
    pts = np.concatenate([np.asarray(line) for line in pm.contours]) + pm.offset  # drawn around the offset
    assert len(pm.contours) >= 8 and (pts.min(0) >= xy.min(0) - 1e-6).all() and (pts.max(0) <= xy.max(0) + 1e-6).all()
    assert point_map(np.zeros((5, 2)), title="t", contours=True).contours == []  # all in one place: none


def test_a_map_far_from_zero_keeps_its_spread():
    x = 1e9 + np.arange(300.0)  # float32 alone would put all 300 at 1e9 (its resolution there is 64)
    pm = point_map(np.stack([x, np.zeros(300)], 1), title="t")
    assert pm.offset == (1e9 + 149.5, 0.0)
    assert len(np.unique(pm.xy[:, 0])) == 300
    assert np.allclose(pm.xy[:, 0].astype(np.float64) + pm.offset[0], x, rtol=0, atol=1e-4)


def test_the_digest_changes_with_what_is_drawn_only():
    xy = np.arange(8.0).reshape(4, 2)
    a = point_map(xy, title="a", categories=[0, 1, 0, 1], category_names=["x", "y"])
    b = point_map(xy, title="b", categories=[0, 1, 0, 1], category_names=["x", "y"])
    c = point_map(xy, title="a", categories=[1, 1, 0, 1], category_names=["x", "y"])
    assert a.data_id() == b.data_id() != c.data_id()


@pytest.mark.parametrize("kwargs, message", [
    (dict(coords=np.zeros((0, 2))), r"shaped \(N, 2\)"),
    (dict(coords=np.zeros((4, 3))), r"shaped \(N, 2\)"),
    (dict(coords=np.array([[0.0, 1.0], [np.nan, 2.0], [np.inf, 0.0]])), "2 of 3 map coordinates are not finite"),
    (dict(coords=np.zeros((4, 2)), categories=[0, 1]), "one per point"),
    (dict(coords=np.zeros((2, 2)), categories=[0, 3], category_names=["a"]), "names were given"),
    (dict(coords=np.zeros((2, 2)), values=[1.0]), "one per point"),
    (dict(coords=np.zeros((2, 2)), highlight=[True]), "one per point"),
])
def test_bad_inputs_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        point_map(title="t", **kwargs)


def test_selection_trusts_only_its_own_map_and_rows_in_range():
    assert selection(None, "m", 10) == MapSelection()
    assert selection({"map_id": "other", "rows": [1, 2]}, "m", 10) == MapSelection()  # another map's selection
    got = selection({"map_id": "m", "rows": [5, 2, 2, 99, -1, "3", 1.5], "clicked": 99}, "m", 10)
    assert got == MapSelection((2, 5), None)
    assert selection({"map_id": "m", "rows": [4], "clicked": 4}, "m", 10) == MapSelection((4,), 4)


def test_a_number_column_with_blank_cells_gets_a_colour_scale_and_blanks_say_so():
    from vizcore.ui.projector_map import _numbers

    got = _numbers(np.array(["1.5", "", " 3 ", "2"], dtype=object))
    assert got.dtype == np.float64 and np.isnan(got[1]) and got[[0, 2, 3]].tolist() == [1.5, 3.0, 2.0]
    text = np.array(["1", "two", ""], dtype=object)
    assert _numbers(text) is text  # not all numbers: stays text
    blank = np.array(["", " "], dtype=object)
    assert _numbers(blank) is blank  # nothing to colour by number
