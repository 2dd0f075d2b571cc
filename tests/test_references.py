"""Every statistic is drawn with the reference that gives it meaning (issue 13 §4): uniform attention distance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vizcore import figures
from vizcore.analysis import anatomy
from vizcore.models.layout import TokenLayout


def _layout(grid: int, patch: int, prefix: int = 1) -> TokenLayout:
    return TokenLayout(prefix, (grid, grid), (patch, patch), ("cls",) + tuple(f"reg{i}" for i in range(1, prefix)))


@pytest.mark.parametrize(("grid", "patch", "expected"), [(8, 8, 33.09), (14, 16, 116.49)])
def test_uniform_attention_distance_is_exact_for_the_grid(grid, patch, expected):
    lay = _layout(grid, patch)
    u = anatomy.uniform_attention_distance(lay)
    assert u == pytest.approx(expected, abs=0.005)
    n = lay.num_tokens
    uniform = torch.full((1, 1, 1, n, n), 1 / n)  # uniform attention, prefix tokens included
    assert anatomy.mean_attention_distance(uniform, lay)[0, 0] == pytest.approx(u, rel=1e-9)


def test_distance_figure_draws_the_uniform_reference():
    dist = np.array([[33.2, 27.0, 32.6, 32.8], [32.2, 34.1, 32.7, 32.5]])
    fig = figures.attention_distance_figure(dist, title="t", patch_size=8, uniform=33.09)
    assert any(abs(s.y0 - 33.09) < 1e-9 for s in fig.layout.shapes)
    assert any("uniform attention: 33.1 px" in (a.text or "") for a in fig.layout.annotations)
    assert fig.layout.yaxis.range[1] > 35


def test_distance_caption_follows_the_data():
    tiny = np.array([[33.2, 27.0, 32.6, 32.8], [31.7, 29.5, 34.3, 31.4], [32.5, 34.6, 32.4, 32.1],
                     [32.2, 34.1, 32.7, 32.5]])  # the bundled tiny ViT: 27-35 px on an 8x8 grid (uniform 33.1)
    text = anatomy.describe_attention_distance(tiny, 33.09)
    assert "33.1 px" in text and "27.0 and 34.6 px" in text
    assert "No head attends clearly more locally than uniform" in text
    assert "mix local and global" not in text
    local = tiny.copy()
    local[0, :2] = [6.0, 9.0]  # two local heads in layer 0
    text = anatomy.describe_attention_distance(local, 33.09)
    assert "2 of 16 heads attend locally" in text and "layer 0" in text


def test_upscale_factor_flags_tiny_uploads():
    from vizcore.ui.notes import UPSCALE_WARN, upscale_factor

    assert upscale_factor((1, 1), (64, 64)) == 64  # a 1x1 upload, seen as 64x64
    assert upscale_factor((640, 480), (64, 64)) < 1 < UPSCALE_WARN
    assert upscale_factor((16, 64), (64, 64)) == 4 >= UPSCALE_WARN  # (width, height) against (H, W)
