"""Embeddings kept on disk as Parquet, keyed by data set + model + layer + pooling, so reruns and sessions reuse them.

    path = store_dir("digits", "bundled:tiny_vit", True, -1, "cls")   # ~/.cache/vizcore/embeddings/<key>/
    X = load_matrix(path)                                             # None until saved
    save_matrix(path, X)

The folder is `$VIZCORE_CACHE_DIR/embeddings` (default `~/.cache/vizcore/embeddings`); one sub-folder per key holds
either `vectors.parquet` (a matrix the app computed) or the shards of a `vizcore embed` job (large uploads).
The key is a hash of the data key (a bundled name or an upload's sha256), the source spec, pretrained, layer,
pooling and `STORE_VERSION`; delete the folder to start afresh (e.g. after retraining a bundled model).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

STORE_VERSION = 1
MATRIX_FILE = "vectors.parquet"


def cache_root() -> Path:
    """vizcore's cache folder: `$VIZCORE_CACHE_DIR`, default `~/.cache/vizcore` (embeddings, hover thumbnails)."""
    return Path(os.environ.get("VIZCORE_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "vizcore"))


def root() -> Path:
    return cache_root() / "embeddings"


def _store_key(data_key: str, spec: str, pretrained: bool, layer: int, pooling: str) -> str:
    return json.dumps([STORE_VERSION, data_key, spec, bool(pretrained), int(layer), pooling])


def store_path(data_key: str, spec: str, pretrained: bool, layer: int, pooling: str) -> Path:
    """The folder for one (data, source) pair, without creating it (to look for a finished store)."""
    key = _store_key(data_key, spec, pretrained, layer, pooling)
    return root() / hashlib.sha256(key.encode()).hexdigest()[:32]


def store_dir(data_key: str, spec: str, pretrained: bool, layer: int, pooling: str) -> Path:
    """The folder for one (data, source) pair (created)."""
    key = _store_key(data_key, spec, pretrained, layer, pooling)
    path = store_path(data_key, spec, pretrained, layer, pooling)
    path.mkdir(parents=True, exist_ok=True)
    (path / "key.json").write_text(key, encoding="utf-8")
    return path


def keep_upload(sha: str, blob: bytes) -> Path:
    """An uploaded zip kept on disk as uploads/<sha256>/upload.zip (written once), for the embedding job to stream.

    The path depends on the bytes only: the same zip uploaded under another name is the same job's source, so two
    sessions share one store (and one cache entry, which Streamlit runs once at a time) instead of two jobs
    writing into it.
    """
    path = root() / "uploads" / sha / "upload.zip"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    return path


def load_matrix(path: Path) -> np.ndarray | None:
    """The stored (N, D) float32 matrix, read-only, or None when there is none (or it is unreadable)."""
    f = path / MATRIX_FILE
    if not f.is_file():
        return None
    import pyarrow.parquet as pq

    try:
        col = pq.read_table(f, columns=["vector"]).column("vector").combine_chunks()
        X = col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), col.type.list_size).astype(np.float32)
    except Exception:  # a damaged file is recomputed  # noqa: BLE001
        return None
    X.flags.writeable = False
    return X


def save_matrix(path: Path, X: np.ndarray) -> Path:
    """Write (N, D) float32 as one fixed-size-list column, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    X = np.ascontiguousarray(X, np.float32)
    table = pa.table({"vector": pa.FixedSizeListArray.from_arrays(pa.array(X.ravel()), X.shape[1])})
    tmp = path / (MATRIX_FILE + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path / MATRIX_FILE)
    return path / MATRIX_FILE
