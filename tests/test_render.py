"""`vizcore.export.render` reads plotly's named colour scales without plotly's validators (issue 15), and gets
exactly the stops plotly itself uses for every name (so figures and downloads keep their colours)."""

from __future__ import annotations

import pytest
from plotly.colors import get_colorscale

from vizcore.errors import InputError
from vizcore.export import render


def _plotly_names() -> list[str]:
    from _plotly_utils.basevalidators import ColorscaleValidator

    names = sorted(ColorscaleValidator("", "").named_colorscales)
    return names + [n + "_r" for n in names] + [n.upper() for n in names[:3]] + list(render.COLORSCALES)


def test_the_table_is_plotlys():
    from _plotly_utils.basevalidators import ColorscaleValidator

    assert render._named_scales() == ColorscaleValidator("", "").named_colorscales


@pytest.mark.parametrize("name", _plotly_names())
def test_stops_equal_plotlys_for_every_named_scale(name: str):
    expected = tuple((float(pos), render.screen_safe(colour)) for pos, colour in get_colorscale(name))
    assert render.colorscale_stops(name) == expected


@pytest.mark.parametrize("name", ["NoSuchScale", "", "_r", None])
def test_unknown_scale_names_the_offered_ones(name):
    with pytest.raises(InputError, match="Inferno"):
        render.colorscale_stops(name)
