"""The offline sample photos are read by path (issue 15: no scikit-learn or scikit-image import) and are exactly
the pixels those packages' own loaders return."""

from __future__ import annotations

import numpy as np
import pytest

from vizcore.data import sample_images


@pytest.mark.parametrize(("label", "loader"), [
    ("astronaut (scikit-image)", "astronaut"), ("cat (scikit-image)", "chelsea"), ("coffee (scikit-image)", "coffee"),
    ("rocket (scikit-image)", "rocket"),
])
def test_scikit_image_photos_are_its_pixels(label: str, loader: str):
    from skimage import data as skdata

    assert np.array_equal(np.asarray(sample_images()[label]), getattr(skdata, loader)())


@pytest.mark.parametrize("name", ["china", "flower"])
def test_scikit_learn_photos_are_its_pixels(name: str):
    from sklearn.datasets import load_sample_image

    image = sample_images()[f"{name} (scikit-learn)"]
    assert image.mode == "RGB"
    assert np.array_equal(np.asarray(image), load_sample_image(f"{name}.jpg"))


def test_every_sample_is_listed_once():
    assert len(sample_images()) == 6
