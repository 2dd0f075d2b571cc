"""The Ray engine of `vizcore embed`: the same job as `embed_job.run_local`, as a Ray Data pipeline.

    read (`ray.data.from_items`, one row per pending image) -> `map_batches(EmbedActor, concurrency=workers)`
    (each actor loads the model once and embeds whole batches) -> `write_parquet(out_dir)`

Rows already written by an earlier run (either engine) are skipped, so a rerun resumes. The rows are the
source's stable order (`row` column), so `vizcore.io.vectors.load(out_dir)` returns the same matrix as the local
engine. `ray` is an optional extra (`pip install -e ".[scale]"`); without it `run_ray` says so.
On a cluster: start Ray there (`ray start --head` / `--address`), then run the same command on the head node with
`RAY_ADDRESS=auto`; image paths must be readable on every node (shared storage) and the model spec loadable
there (the same bundled file, or weights in each node's Hugging Face cache).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from vizcore.data.image_stream import ImageItem, open_images
from vizcore.errors import InputError
from vizcore.export.embed_job import MANIFEST, EmbedJob, _check, _note_skipped, embed_items, vector_dim
from vizcore.io.archives import read_path
from vizcore.models import load_model


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise InputError("--engine ray needs Ray: `pip install -e \".[scale]\"` (or `pip install 'ray[data]'`), "
                         "or use --engine local.") from err
    return ray


class EmbedActor:
    """One per Ray worker: loads the model once, then embeds batches of rows (dicts of numpy arrays)."""

    def __init__(self, job: EmbedJob) -> None:
        self.job = job
        self.handle = "pixels" if job.model == "pixels" else load_model(job.model, pretrained=job.pretrained)
        self.dim = vector_dim(self.handle, job)
        self.zip_items: dict[str, ImageItem] | None = None
        self._zip = None

    def _item(self, row: dict) -> ImageItem:
        if row["path"]:
            path = Path(row["path"])
            return ImageItem(row["id"], row["label"], row["path"], lambda limit, p=path: read_path(p, limit))
        if self.zip_items is None:  # a zip source: every worker opens it once
            self._zip = open_images(self.job.source)
            self.zip_items = {i.id: i for i in self._zip.__enter__().items}
        return self.zip_items[row["id"]]

    def __call__(self, batch: dict) -> object:
        rows = [dict(zip(batch, values)) for values in zip(*batch.values())]
        items = [self._item(r) for r in rows]
        table, _ = embed_items(self.handle, items, [int(r["row"]) for r in rows], self.job, self.dim)
        return table


def _done_rows(out: Path) -> set[int]:
    """Rows already in `out` (any engine's shards) or recorded there as unreadable."""
    import pyarrow.parquet as pq

    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8")) if (out / MANIFEST).is_file() else {}
    done: set[int] = set(manifest.get("skipped_rows", []))
    for f in out.glob("*.parquet"):
        try:
            done.update(pq.read_table(f, columns=["row"]).column("row").to_pylist())
        except Exception:  # a partial file from an interrupted run: its rows are redone  # noqa: BLE001
            f.unlink()
    return done


def run_ray(job: EmbedJob, out_dir: str | os.PathLike, *, workers: int | None = None,
            batch_size: int | None = None) -> dict:
    """Embed every pending image of `job.source` through Ray Data into `out_dir` (see the module docstring).

    Args:
        workers: actors (each loads the model once); default: Ray's CPU count (or GPUs when there are any).
        batch_size: rows per `map_batches` call (default: `job.batch_size`).
    """
    ray = _ray()
    out = Path(out_dir)
    start = time.perf_counter()
    with open_images(job.source) as listing:
        n = len(listing.items)
        _check(job, out, n)
        done = _done_rows(out)
        pending = [{"row": r, "id": it.id, "label": it.label, "path": it.path or ""}
                   for r, it in enumerate(listing.items) if r not in done]
        if done == set() and listing.skipped:
            _note_skipped(out, list(listing.skipped))
    if pending:
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS"), ignore_reinit_error=True, log_to_driver=False)
        cpus = int(ray.cluster_resources().get("CPU", 1))
        gpus = int(ray.cluster_resources().get("GPU", 0))
        workers = workers or (gpus or max(1, cpus))
        ds = ray.data.from_items(pending, override_num_blocks=max(1, min(len(pending) // 64, 4 * workers)))
        ds = ds.map_batches(EmbedActor, fn_constructor_args=(job,), batch_size=batch_size or job.batch_size,
                            concurrency=workers, num_gpus=1 if gpus else 0, num_cpus=1, batch_format="numpy")
        ds.write_parquet(str(out))
        missing = sorted({p["row"] for p in pending} - _done_rows(out))  # images the actors could not read
        if missing:
            ids = {p["row"]: p["id"] for p in pending}
            _note_skipped(out, [(ids[r], "could not be read or decoded") for r in missing])
            manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
            manifest["skipped_rows"] = sorted(set(manifest.get("skipped_rows", [])) | set(missing))
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    seconds = time.perf_counter() - start
    return {"rows": n, "written": len(pending), "skipped_rows": len(done), "seconds": seconds,
            "images_per_s": len(pending) / seconds if pending else 0.0}


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference of two (N, D) matrices (inf when their shapes differ)."""
    return float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
