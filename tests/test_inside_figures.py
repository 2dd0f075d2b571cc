"""Inside a block: the attention row's colours are the colour bar's (issue 13 §1 on this page: yellow attention
at 60% over a red object drew orange, a colour the bar does not have). Titles that fit: tests/browser/test_inside.py."""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from PIL import Image

import vizcore as vc
from vizcore.analysis import trace
from vizcore.figures import inside


@pytest.fixture(scope="module")
def traced():
    handle = vc.load_model("bundled:tiny_vit")
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    images[:, 0, 16:48, 16:48], images[:, 1:, 16:48, 16:48] = 1.0, 0.0  # a red square, as in the scenes
    return trace.trace_input(handle, images), trace.trace_block(handle, images, layer=1)


def test_the_attention_row_is_drawn_over_the_image_in_grey(traced):
    """Under a semi-transparent map only the map may bring hue: the colour of every patch is on the colour bar."""
    _, blk = traced
    fig = inside.attention_row_figure(blk, head=0, query=12)
    picture = next(t for t in fig.data if isinstance(t, go.Image))
    rgb = np.asarray(Image.open(io.BytesIO(base64.b64decode(picture.source.split(",", 1)[1]))).convert("RGB"))
    assert rgb.std() > 10  # the picture is there
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()  # ... in grey
    assert "image in grey" in fig.layout.title.text
