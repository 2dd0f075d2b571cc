"""The one held-out split per data set that every autoencoder recipe and view shares (fair comparisons).

May import: `vizcore.data`, `vizcore.errors`.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from vizcore.data.dataset import Dataset
from vizcore.data.registry import load_dataset
from vizcore.data.scenes import data_seed
from vizcore.data.sprites import SHAPES, make_sprites

SPLIT_SEED = 0        # one held-out split per data set, shared by every model (fair comparisons)
TEST_FRACTION = 0.2
GENERATED = {"sprites"}  # data sets whose training images are generated fresh (the registered set is held out)


def holdout(name: str, *, seed: int = 0, train_size: int = 20000) -> tuple[Dataset, Dataset]:
    """(training, held-out) images of a data set: the shared split every recipe and view uses.

    Registered data sets are split once (stratified, `SPLIT_SEED`, `TEST_FRACTION` held out). Generated data
    sets train on `train_size` fresh images drawn from `seed` and hold out the registered set.
    """
    if name in GENERATED:
        s = make_sprites(train_size, seed=data_seed(seed, "train"))
        ids = tuple(f"{name}/train/{i:05d}" for i in range(len(s)))
        return Dataset(f"{name}/train", s.images, s.labels.numpy(), SHAPES, ids), load_dataset(name)
    ds = load_dataset(name)
    idx = np.arange(len(ds))
    tr, te = train_test_split(idx, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=ds.labels)
    return _subset(ds, np.sort(tr), "train"), _subset(ds, np.sort(te), "test")


def heldout(name: str) -> Dataset:
    """Only the held-out part of `holdout(name)` (cheap: generated data sets skip drawing training images)."""
    return load_dataset(name) if name in GENERATED else holdout(name)[1]


def _subset(ds: Dataset, idx: np.ndarray, part: str) -> Dataset:
    return Dataset(f"{ds.name}/{part}", ds.images[idx], ds.labels[idx], ds.label_names,
                   tuple(ds.ids[i] for i in idx))
