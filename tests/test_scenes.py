"""The procedural scene generator: deterministic, well-formed, balanced, and objects reach the border."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vizcore.data.scenes import SHAPES, make_scenes, sample_scenes


@pytest.fixture(scope="module")
def scenes():
    return make_scenes(400, seed=7)


def test_same_seed_same_scenes_and_other_seed_differs():
    a, b, c = make_scenes(64, seed=3), make_scenes(64, seed=3), make_scenes(64, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.images, c.images)


def test_draws_larger_than_one_rendering_chunk_are_deterministic():
    a, b = make_scenes(1100, seed=1, clutter=0.2), make_scenes(1100, seed=1, clutter=0.2)
    assert torch.equal(a.images, b.images)


def test_shapes_dtypes_and_ranges(scenes):
    n = len(scenes)
    assert scenes.images.shape == (n, 3, 64, 64) and scenes.images.dtype == torch.float32
    assert scenes.labels.shape == (n,) and scenes.labels.dtype == torch.int64
    assert scenes.masks.shape == (n, 64, 64) and scenes.masks.dtype == torch.bool
    assert scenes.images.min() >= 0.0 and scenes.images.max() <= 1.0
    assert scenes.class_names == SHAPES and 6 <= len(SHAPES) <= 8
    assert make_scenes(3, seed=0, size=48).images.shape == (3, 3, 48, 48)


def test_masks_cover_a_plausible_area(scenes):
    area = scenes.masks.flatten(1).float().mean(1)  # (N,) share of the image
    assert area.min() > 0.01, "every scene has a visible object"
    assert area.max() < 0.35
    assert 0.05 < area.mean() < 0.2


def test_object_pixels_are_one_flat_colour_that_stands_out(scenes):
    imgs, masks = scenes.images.permute(0, 2, 3, 1), scenes.masks  # (N, H, W, 3), (N, H, W)
    for i in range(50):
        inside, outside = imgs[i][masks[i]], imgs[i][~masks[i]]  # (P, 3), (Q, 3)
        assert torch.allclose(inside, inside[0].expand_as(inside))
        assert (inside[0] - outside.median(0).values).norm() > 0.2


def test_every_class_appears_in_200_scenes():
    counts = torch.bincount(make_scenes(200, seed=11).labels, minlength=len(SHAPES))
    assert (counts > 0).all() and counts.min() >= 10


def test_objects_sometimes_touch_the_border_and_are_spread_over_the_image(scenes):
    m = scenes.masks
    touches = m[:, 0].any(1) | m[:, -1].any(1) | m[:, :, 0].any(1) | m[:, :, -1].any(1)
    assert 0.15 < touches.float().mean() < 0.9
    heat = m.float().mean(0)  # (H, W): how often each pixel is object
    quadrants = [heat[:32, :32], heat[:32, 32:], heat[32:, :32], heat[32:, 32:]]
    assert all(q.mean() > 0.05 for q in quadrants)
    assert heat[:4].mean() > 0.02 and heat[:, -4:].mean() > 0.02, "the border rows and columns hold objects too"


def test_clutter_adds_distractors():
    plain, busy = make_scenes(100, seed=5, clutter=0.0), make_scenes(100, seed=5, clutter=1.0)

    def roughness(s):  # mean absolute difference between neighbouring background pixels
        d = (s.images[..., 1:] - s.images[..., :-1]).abs().mean(1)  # (N, H, W-1)
        bg = ~(s.masks[..., 1:] | s.masks[..., :-1])
        return float(d[bg].mean())

    assert roughness(busy) > 2 * roughness(plain)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        make_scenes(4, seed=0, clutter=1.5)


def test_sample_scenes_gives_one_named_image_per_class():
    samples = sample_scenes()
    assert [name for name, _ in samples] == list(SHAPES)
    for _, im in samples:
        assert im.size == (64, 64) and im.mode == "RGB"
        assert np.asarray(im).std() > 5
