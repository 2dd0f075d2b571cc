"""Data sets: `Dataset` (images (N, C, H, W) in [0, 1] with labels, class names, ids, metadata), the registry of
bundled sets (`registry`), procedural scenes and sprites, users' image sets (`imagesets`) and the shared
held-out splits (`splits`).

May import: `vizcore.io`, `vizcore.errors`.
"""

from __future__ import annotations

from vizcore.data.dataset import Dataset
from vizcore.data.registry import DATASETS, list_datasets, load_dataset, sample_images

__all__ = ["DATASETS", "Dataset", "list_datasets", "load_dataset", "sample_images"]
