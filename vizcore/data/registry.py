"""The registry of bundled data sets (`load_dataset`, `list_datasets`) and the offline sample photos.

Bundled sets: scikit-learn digits, procedural sprites and scenes, scikit-image faces and photo tiles. Adding a data
set is adding one entry to `DATASETS`. May import: `vizcore.data` modules below it, `vizcore.io`, `vizcore.errors`.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vizcore.data.dataset import Dataset
from vizcore.data.scenes import CLUTTER, data_seed, make_scenes
from vizcore.data.sprites import BROWSE_SEED, BROWSE_SIZE, SHAPES, make_sprites
from vizcore.errors import InputError

# Photos bundled inside installed dependencies (display name -> (package, file inside it)), so there are examples
# offline: the files scikit-image's `data.astronaut()` etc. and scikit-learn's `load_sample_image` read.
_SAMPLES = {
    "astronaut (scikit-image)": ("skimage", "data/astronaut.png"),
    "cat (scikit-image)": ("skimage", "data/chelsea.png"),
    "coffee (scikit-image)": ("skimage", "data/coffee.png"),
    "rocket (scikit-image)": ("skimage", "data/rocket.jpg"),
    "china (scikit-learn)": ("sklearn", "datasets/images/china.jpg"),
    "flower (scikit-learn)": ("sklearn", "datasets/images/flower.jpg"),
}


def _bundled_photo(package: str, file: str) -> Image.Image:
    """A photo shipped inside an installed package, read by path as RGB.

    Both packages decode these files with PIL, so the pixels are theirs (tests/test_data_samples.py compares), without
    importing them: `skimage.io` pulls in scipy (about 3 s) and `sklearn.datasets` scikit-learn (1.5 s quiet, 9 s
    on a busy machine); `find_spec` of a top-level package only locates it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"The sample photos need {package} installed (pip install scikit-image scikit-learn).")
    with Image.open(Path(spec.submodule_search_locations[0]) / file) as img:
        return img.convert("RGB")


@functools.lru_cache(maxsize=1)
def _cached_samples() -> dict[str, Image.Image]:
    return {label: _bundled_photo(*src) for label, src in _SAMPLES.items()}


def sample_images() -> dict[str, Image.Image]:
    """Named RGB sample photos available offline, e.g. "astronaut (scikit-image)".

    Decoded once per process; each call returns fresh copies, so callers may modify them freely.
    """
    return {name: img.copy() for name, img in _cached_samples().items()}


def _load_digits() -> Dataset:
    """scikit-learn's 1797 handwritten digits, 8 x 8 greyscale, values 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    ids = tuple(f"digits/{i:04d}" for i in range(len(d.target)))
    return Dataset("digits", images, d.target.astype(np.int64), tuple(str(i) for i in range(10)), ids)


def _load_sprites() -> Dataset:
    """dSprites-style shapes (square, ellipse, heart) at random scale and position, 32 x 32: `BROWSE_SIZE` sprites
    from `BROWSE_SEED` (recipes train on other seeds), labelled by shape; see `vizcore.data.sprites`."""
    s = make_sprites(BROWSE_SIZE, seed=BROWSE_SEED)
    ids = tuple(f"sprites/{i:04d}" for i in range(len(s)))
    return Dataset("sprites", s.images, s.labels.numpy(), SHAPES, ids)


def _load_scenes() -> Dataset:
    """2,000 held-out "shapes in clutter" scenes (64 x 64 RGB) from the "check" seed, never seen in training.

    Labelled by shape name; metadata holds the object's centre ("object_x", "object_y", fractions of the side)
    and its share of the image ("object_area"), all measured from the exact object mask.
    """
    s = make_scenes(2000, seed=data_seed(0, "check"), size=64, clutter=CLUTTER)
    masks = s.masks.numpy()  # (N, H, W) bool
    area = masks.mean(axis=(1, 2))  # (N,)
    coords = (np.arange(masks.shape[1]) + 0.5) / masks.shape[1]  # pixel centres as fractions of the side
    cx = (masks.sum(axis=1) * coords).sum(axis=1) / masks.sum(axis=(1, 2)).clip(1)  # (N,)
    cy = (masks.sum(axis=2) * coords).sum(axis=1) / masks.sum(axis=(1, 2)).clip(1)  # (N,)
    meta = {"object_x": tuple(cx.round(3).tolist()), "object_y": tuple(cy.round(3).tolist()),
            "object_area": tuple(area.round(4).tolist())}
    ids = tuple(f"scenes/{i:04d}" for i in range(len(s)))
    return Dataset("scenes", s.images, s.labels.numpy(), s.class_names, ids, meta)


def _load_faces() -> Dataset:
    """scikit-image's `lfw_subset`: 100 faces and 100 non-faces (background crops), 25 x 25 greyscale."""
    from skimage.data import lfw_subset  # ships inside the scikit-image package: no download

    images = torch.from_numpy(lfw_subset().astype(np.float32)).unsqueeze(1)  # (200, 1, 25, 25), already in [0, 1]
    labels = np.repeat(np.arange(2, dtype=np.int64), 100)  # the first 100 are faces
    return Dataset("faces", images, labels, ("face", "non-face"), tuple(f"faces/{i:03d}" for i in range(200)))


_TEXTURES = ("brick", "grass", "gravel")  # 512 x 512 greyscale scikit-image textures, shipped in the package
TILE = 64


def _load_photos() -> Dataset:
    """The offline sample photos and three textures cut into 64 x 64 tiles (518 tiles), labelled by source.

    Non-overlapping tiles from a centred crop; metadata "tile_row" / "tile_col" is the tile's place in its photo.
    """
    from skimage import data as skdata

    sources = {name.split(" (")[0]: np.asarray(img) for name, img in _cached_samples().items()}
    sources |= {name: np.repeat(getattr(skdata, name)()[..., None], 3, axis=2) for name in _TEXTURES}
    tiles, labels, rows, cols, ids = [], [], [], [], []
    for k, (name, img) in enumerate(sources.items()):
        gh, gw = img.shape[0] // TILE, img.shape[1] // TILE
        top, left = (img.shape[0] - gh * TILE) // 2, (img.shape[1] - gw * TILE) // 2
        crop = img[top:top + gh * TILE, left:left + gw * TILE]  # (gh*T, gw*T, 3)
        tiles.append(crop.reshape(gh, TILE, gw, TILE, 3).transpose(0, 2, 4, 1, 3).reshape(-1, 3, TILE, TILE))
        grid_r, grid_c = np.divmod(np.arange(gh * gw), gw)
        labels += [k] * (gh * gw)
        rows += grid_r.tolist()
        cols += grid_c.tolist()
        ids += [f"photos/{name}/{r}-{c}" for r, c in zip(grid_r, grid_c)]
    images = torch.from_numpy(np.concatenate(tiles).astype(np.float32) / 255.0)  # (N, 3, 64, 64)
    meta = {"tile_row": tuple(rows), "tile_col": tuple(cols)}
    return Dataset("photos", images, np.asarray(labels, np.int64), tuple(sources), tuple(ids), meta)


# name -> loader; adding a dataset is adding one entry.
DATASETS: dict[str, Callable[[], Dataset]] = {
    "digits": _load_digits,
    "sprites": _load_sprites,
    "scenes": _load_scenes,
    "faces": _load_faces,
    "photos": _load_photos,
}


def list_datasets() -> list[str]:
    """Names accepted by `load_dataset`, sorted."""
    return sorted(DATASETS)


def load_dataset(name: str) -> Dataset:
    """Load a registered dataset by name (cached per process, so the result is shared: do not modify it)."""
    if name not in DATASETS:
        raise InputError(f"Unknown dataset {name!r}. Choose one of: {', '.join(list_datasets())}.")
    return _cached_dataset(name)


@functools.cache
def _cached_dataset(name: str) -> Dataset:
    return DATASETS[name]()
