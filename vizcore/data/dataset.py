"""`Dataset`: a small labelled image data set held in memory (images, labels, class names, ids, metadata).

May import: `vizcore.errors`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from vizcore.errors import InputError


@dataclass(frozen=True, eq=False)
class Dataset:
    """A small labelled image dataset held in memory; shared through a cache, so treat it as read-only.

    Attributes:
        name: registry name, e.g. "digits".
        images: (N, C, H, W) float32 in [0, 1].
        labels: (N,) int class index into `label_names`.
        label_names: human name of each class.
        ids: one stable id per image (e.g. "digits/0042"), to link projector points back to images.
        metadata: extra per-image columns, name -> N values (e.g. a photo tile's "tile_row"); may be empty.
    """

    name: str
    images: torch.Tensor
    labels: np.ndarray
    label_names: tuple[str, ...]
    ids: tuple[str, ...]
    metadata: dict[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.images.shape[0] if self.images.ndim == 4 else -1
        if n < 0 or self.labels.shape != (n,) or len(self.ids) != n:
            raise InputError(
                f"Dataset {self.name!r} has images {tuple(self.images.shape)}, labels {self.labels.shape} and "
                f"{len(self.ids)} ids. Give (N, C, H, W) images with N labels and N ids."
            )
        bad = {key: len(col) for key, col in self.metadata.items() if len(col) != n}
        if bad:
            raise InputError(
                f"Dataset {self.name!r} has {n} images but metadata columns of other lengths {bad}. "
                "Give every metadata column one value per image."
            )

    def __len__(self) -> int:
        return len(self.ids)
