"""`vizcore embed`: embeddings of a large image set written as Parquet shards, resumable, on one machine or Ray.

    job = EmbedJob("photos/", "bundled:tiny_vit", layer=-1, pooling="cls")
    run_local(job, "run/", progress=print)       # run/part-00000.parquet ... + run/embed.json
    run_ray(job, "run/")                         # the same rows through a Ray Data pipeline

Layout of `out_dir`: `embed.json` (the job: source, model, layer, pooling, rows, dimension) and shards of
`SHARD_ROWS` images, `part-<first row>.parquet`, each written to a temporary name and renamed when complete,
so a rerun skips finished shards and redoes at most one. Columns: row (the image's index in the source's stable
order), id, label, path (the file on disk, else null), thumbnail (a small JPEG, unless thumb=0), vector
(fixed-size list of float32). Images that cannot be decoded are left out and listed in `embed.json`.
`vizcore.io.vectors.load(out_dir)` reads it back in row order, whatever engine wrote it.

The Ray engine (`run_ray`) is the same job as a Ray Data pipeline: `from_items` (one row per pending image) ->
`map_batches` with an actor pool (`EmbedActor`: the model is loaded once per worker) -> `write_parquet`. On a
cluster, `ray.init(address="auto")` (or `RAY_ADDRESS`) makes the same command use every node; image paths must be
readable from every node (shared storage).
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vizcore.analysis import embeddings
from vizcore.data.image_stream import ImageItem, open_images
from vizcore.data.imagesets import fit_image
from vizcore.errors import ImageError, InputError
from vizcore.io.archives import SkipError
from vizcore.models import load_model

SHARD_ROWS = 4096
MANIFEST = "embed.json"
Progress = Callable[[int, int], object]  # progress(images done, total)
PIXELS_HW = (64, 64)  # "pixels": every image fitted into this size, as in the app's in-memory image sets


@dataclass(frozen=True)
class EmbedJob:
    """What to embed and how; `embed.json` holds it, and a rerun must match it.

    Attributes:
        source: folder, zip, .txt list of paths or .parquet (see `vizcore.data.image_stream`).
        model: "pixels", "pca:<k>" is not allowed (it fits on all images); any model spec.
        layer, pooling: as in `vizcore.analysis.embeddings.compute`.
        pretrained: False loads random weights (labelled as such in `embed.json`).
        batch_size: images per forward pass. thumb: longest side of the stored JPEG thumbnails (0: none).
    """

    source: str
    model: str
    layer: int = -1
    pooling: str = "cls"
    pretrained: bool = True
    batch_size: int = embeddings.BATCH_SIZE
    thumb: int = 48

    def key(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("batch_size",)}


class OtherJobError(InputError):
    """The output folder holds (part of) another job's embeddings, or a manifest that cannot be read."""


def _check(job: EmbedJob, out: Path, n: int) -> dict:
    if job.model.startswith("pca:"):
        raise InputError("'pca:<k>' fits PCA on all images at once; embed with 'pixels' or a model, then run "
                         "`vizcore project --method pca`.")
    if job.pooling not in ("cls", "mean"):
        raise InputError(f"pooling must be 'cls' or 'mean'; got {job.pooling!r}.")
    if not 0 <= job.thumb <= 256 or not 1 <= job.batch_size <= 4096:
        raise InputError(f"thumb must be 0-256 px and batch_size 1-4096; got {job.thumb}, {job.batch_size}.")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {**job.key(), "source": str(Path(job.source).resolve()) if isinstance(job.source, str) else "list",
                "rows": n, "shard_rows": SHARD_ROWS}
    path = out / MANIFEST
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise OtherJobError(f"'{path}' cannot be read ({e}), so the shards beside it cannot be trusted. Choose "
                                "another --out folder, or delete this one.") from e
        same = isinstance(old, dict) and {k: old.get(k) for k in manifest} == manifest
        if not same:
            old = old if isinstance(old, dict) else {}
            raise OtherJobError(f"'{out}' already holds embeddings of another job ({old.get('model')}, layer "
                                f"{old.get('layer')}, {old.get('pooling')}, {old.get('rows')} images of "
                                f"{old.get('source')}). Choose another --out folder, or delete it.")
        manifest = old
    else:
        _write_manifest(path, manifest)
    return manifest


def finished(out_dir: str | os.PathLike) -> bool:
    """Whether `out_dir` holds a whole job: its manifest and every shard it lists (a run cut off leaves some out)."""
    out = Path(out_dir)
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        rows, per = int(manifest["rows"]), int(manifest["shard_rows"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return per > 0 and all((out / f"part-{first:09d}.parquet").is_file() for first in range(0, rows, per))


def _thumbnail(image, side: int) -> bytes | None:
    if side == 0:
        return None
    im = image.copy()
    im.thumbnail((side, side))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def vector_dim(handle, job: EmbedJob) -> int:
    """D of the job's vectors (one black image embedded), so a batch whose images all fail keeps the schema."""
    black = _model_input(handle, [Image.new("RGB", (32, 32))])
    return int(embeddings.compute(handle, black, layer=job.layer, pooling=job.pooling).shape[1])


def _model_input(handle, images: list[Image.Image]):
    """What `embeddings.compute` gets: the images, or for "pixels" each fitted into PIXELS_HW on black, as the
    app's in-memory image sets are (photos of any size then give vectors of one length, 3 x 64 x 64)."""
    if isinstance(handle, str) and handle == "pixels":
        return torch.stack([fit_image(im, *PIXELS_HW) for im in images])
    return images


def embed_items(handle, items: list[ImageItem], rows: list[int], job: EmbedJob, dim: int):
    """Decode and embed a batch of items -> a pyarrow Table of the shard schema, and the skipped (id, reason)."""
    images, kept, skipped = [], [], []
    for item, row in zip(items, rows):
        try:
            images.append(item.load())
            kept.append((item, row))
        except SkipError as err:
            skipped.append((item.id, err.reason))
        except ImageError as err:
            skipped.append((item.id, str(err)))
    X = embeddings.compute(handle, _model_input(handle, images), layer=job.layer, pooling=job.pooling,
                           batch_size=job.batch_size) if images else np.zeros((0, dim), np.float32)
    thumbs = [_thumbnail(im, job.thumb) for im in images]
    return shard_table([r for _, r in kept], [i for i, _ in kept], X, thumbs), skipped


def shard_table(rows: list[int], items: list[ImageItem], X: np.ndarray, thumbs: list):
    import pyarrow as pa

    d = X.shape[1] if X.ndim == 2 else 0
    vector = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(X, np.float32).ravel()), d)
    return pa.table({"row": pa.array(rows, pa.int64()), "id": [i.id for i in items],
                     "label": [i.label for i in items], "path": pa.array([i.path for i in items], pa.string()),
                     "thumbnail": pa.array(thumbs, pa.binary()), "vector": vector})


def _write(table, path: Path) -> None:
    import pyarrow.parquet as pq

    tmp = path.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)  # atomic: a shard exists only when complete


def _write_manifest(path: Path, manifest: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a reader never sees half a manifest


def _note_skipped(out: Path, skipped: list) -> None:
    if skipped:
        path = out / MANIFEST
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["skipped"] = (manifest.get("skipped", []) + [list(s) for s in skipped])[:1000]
        manifest["skipped_count"] = manifest.get("skipped_count", 0) + len(skipped)
        _write_manifest(path, manifest)


def run_local(job: EmbedJob, out_dir: str | os.PathLike, *, progress: Progress | None = None,
              handle=None) -> dict:
    """Embed every image of `job.source` into Parquet shards in `out_dir`; finished shards are skipped.

    Returns:
        {"rows": images in the source, "written": rows embedded now, "skipped_shards": shards already done,
        "seconds": wall time of this run, "images_per_s": its throughput}.
    """
    out = Path(out_dir)
    start = time.perf_counter()
    with open_images(job.source) as listing:
        n = len(listing.items)
        _check(job, out, n)
        handle = handle if handle is not None else load_model(job.model, pretrained=job.pretrained) \
            if job.model != "pixels" else "pixels"
        dim = vector_dim(handle, job)
        done = written = 0
        shards = range(0, n, SHARD_ROWS)
        for first in shards:
            path = out / f"part-{first:09d}.parquet"
            rows = list(range(first, min(n, first + SHARD_ROWS)))
            if path.is_file():
                done += 1
            else:
                parts, skipped = [], list(listing.skipped) if first == 0 else []
                for b in range(0, len(rows), job.batch_size):
                    batch = rows[b : b + job.batch_size]
                    table, bad = embed_items(handle, [listing.items[r] for r in batch], batch, job, dim)
                    parts.append(table)
                    skipped += bad
                    written += len(batch)
                    if progress:
                        progress(rows[0] + b + len(batch), n)
                import pyarrow as pa

                _write(pa.concat_tables(parts), path)
                _note_skipped(out, skipped)
            if progress:
                progress(rows[-1] + 1, n)
    seconds = time.perf_counter() - start
    return {"rows": n, "written": written, "skipped_shards": done, "seconds": seconds,
            "images_per_s": written / seconds if written else 0.0}
