"""User vectors (`vizcore.io.vectors.Vectors`) seen as a `Dataset`, so the projector page treats them like images.

The `Dataset` has no pixels (images of shape (N, 0, 1, 1), zero bytes): its labels come from a label-like metadata
column (`LABEL_COLUMNS`, else "unlabelled"), its ids from an "id" column (else the row number), and its metadata
from the other columns, except image bytes. Thumbnails are decoded one row at a time, on demand (`thumbnail`),
from the vectors' image column (encoded bytes or a file path), through the safe `vizcore.load_image`.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from vizcore.data.dataset import Dataset
from vizcore.errors import ImageError
from vizcore.io.archives import SkipError, read_path
from vizcore.io.images import MAX_BYTES, load_image
from vizcore.io.vectors import LABEL_COLUMNS, Vectors

UNLABELLED = "unlabelled"
OTHER = "(other)"  # a legend's entry for the values past its most frequent ones
MAX_LABELS = 10_000  # a label column with more distinct values is kept as metadata, not as the label


def label_column(v: Vectors) -> str | None:
    """The metadata column used as the label: the first named like a label with at most `MAX_LABELS` values."""
    cols = {str(c).lower(): c for c in v.metadata.columns}
    for name in LABEL_COLUMNS:
        c = cols.get(name)
        if c is not None and c != v.image_column and v.metadata[c].nunique(dropna=False) <= MAX_LABELS:
            return c
    return None


def as_dataset(v: Vectors, name: str) -> Dataset:
    """A pixel-less `Dataset` of the vectors' N rows (labels, ids, metadata as above)."""
    n = len(v)
    meta = v.metadata
    col = label_column(v)
    if col is None:
        labels, names = np.zeros(n, np.int64), (UNLABELLED,)
    else:
        text = meta[col].astype(str).where(meta[col].notna(), UNLABELLED).to_numpy()
        uniq, codes = np.unique(text, return_inverse=True)
        names = tuple(sorted((str(u) for u in uniq), key=natural_key))  # "2" before "10"
        position = {name: k for k, name in enumerate(names)}
        labels = np.array([position[str(u)] for u in uniq], np.int64)[codes]
    ids = tuple(meta["id"].astype(str)) if "id" in meta.columns else tuple(str(i) for i in range(n))
    skip = {col, "id", v.image_column if v.image_kind == "bytes" else None}
    metadata = {str(c): tuple(_plain(meta[c])) for c in meta.columns if c not in skip}
    return Dataset(name, torch.empty((n, 0, 1, 1)), labels.astype(np.int64), names, ids, metadata)


def image_stamp(v: Vectors, rows: range) -> str | None:
    """What changes when an image file of `rows` changes (its path, size and modification time), for a path
    column; None for encoded images (they change only with the vectors' own file)."""
    if v.image_column is None or v.image_kind == "bytes":
        return None
    h = hashlib.blake2b(digest_size=16)
    for value in v.metadata[v.image_column].iloc[rows.start:rows.stop]:
        try:
            path = _image_path(v, value)
            st = path.stat()
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except (OSError, ValueError):  # missing, unreadable, or not a path (a NUL byte)
            h.update(f"{value!r}\0-\n".encode())
    return h.hexdigest()


def _image_path(v: Vectors, value) -> Path:
    path = Path(str(value))
    return path if path.is_absolute() else Path(v.root) / path


def natural_key(name: str) -> tuple:
    """Sort key: numbers by value first ("-10" < "0.05" < "2"), then text with digit runs read as numbers ("img2" <
    "img10", case-insensitive), OTHER last."""
    try:
        number = float(name)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        return 0, number, []
    parts = re.split(r"(\d+)", name)  # text, digits, text, ...: like parts compare with like
    return (2 if name == OTHER else 1), 0.0, [p.casefold() if i % 2 == 0 else (0, int(p)) if len(p) <= 30
                                              else (1, p) for i, p in enumerate(parts)]  # huge runs stay text


def _plain(column: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy()
    return column.astype(object).where(column.notna(), None).to_numpy()


def thumbnail(v: Vectors, i: int, side: int = 64) -> np.ndarray | None:
    """Row i's image as uint8 (h, w, 3) fitted into `side` px, or None (no image column, unreadable file)."""
    if v.image_column is None:
        return None
    value = v.metadata[v.image_column].iloc[i]
    try:
        if v.image_kind == "bytes":
            if value is None or len(value) > MAX_BYTES:
                return None
            image = load_image(bytes(value), at_least=side)
        else:
            image = load_image(read_path(_image_path(v, value), MAX_BYTES), at_least=side)
    except (ImageError, SkipError, OSError):
        return None
    image.thumbnail((side, side))
    return np.asarray(image.convert("RGB"))
