"""Cached results of the Embedding projector: data sets, features, maps, scores, user vectors, neighbours."""

from __future__ import annotations

import io
import shutil

import numpy as np
import streamlit as st

import vizcore as vc
import vizcore.analysis.neighbors as neighbors
from vizcore.analysis import baseline, embeddings, projection, scores
from vizcore.data import embedding_store, image_stream, imagesets, vector_sets
from vizcore.export import embed_job
from vizcore.io import vectors as user_vectors
from vizcore.models import random_twin
from vizcore.ui.cache.core import model

# ---- embedding projector ------------------------------------------------------------------------------------------

@st.cache_resource(max_entries=4, show_spinner=False)
def upload_set(sha: str, name: str, _blob: bytes, max_images: int) -> imagesets.ImageSet:
    """The images of an uploaded zip, keyed by its sha256 (`_blob` itself is never hashed by Streamlit)."""
    bar = st.progress(0.0, text=f"Reading {name}…")
    upload = io.BytesIO(_blob)
    upload.name = name  # messages name the user's file
    try:
        return imagesets.from_zip(upload, max_images=max_images, progress=throttled(bar, "Decoding"))
    finally:
        bar.empty()


def throttled(bar, verb: str):
    """A progress(done, total) callback that redraws `bar` at most 100 times."""
    last = [-1]

    def update(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct != last[0]:
            last[0] = pct
            bar.progress(pct / 100, text=f"{verb}: {done:,} of {total:,} images")

    return update


@st.cache_resource(max_entries=8, show_spinner=False)
def features(data_key: str, source, _dataset: vc.Dataset) -> np.ndarray:
    """(N, D) float32 features of every image of `_dataset` (named `data_key`), read-only: shared by sessions.

    `source` is a hashable `projector_state.Source` (spec, pretrained, layer, pooling, title)."""
    store = embedding_store.store_dir(data_key, source.spec, source.pretrained, source.layer, source.pooling)
    X = embedding_store.load_matrix(store)  # computed before, by this or another session or process
    if X is not None and len(X) == len(_dataset):
        return X
    spec = source.spec if source.spec.startswith("pca:") else model(source.spec, source.pretrained)
    n = len(_dataset)
    bar = st.progress(0.0, text=f"Embedding {n:,} images with {source.title}…")
    try:
        X = embeddings.compute(spec, _dataset.images, layer=source.layer, pooling=source.pooling,
                               progress=throttled(bar, f"Embedding with {source.title}"))
    finally:
        bar.empty()
    embedding_store.save_matrix(store, X)
    X.flags.writeable = False
    return X


@st.cache_data(max_entries=16, show_spinner="Counting the images in the zip…")
def kept_upload(sha: str, _blob: bytes) -> tuple[str, int]:
    """The upload kept on disk (path) and how many images it lists, keyed by its sha256."""
    path = embedding_store.keep_upload(sha, _blob)
    return str(path), image_stream.count_images(path)


def upload_embedded(data_key: str, source) -> bool:
    """Whether a large zip's embeddings with `source` are all on disk already (then opening them is quick)."""
    return embed_job.finished(embedding_store.store_path(data_key, source.spec, source.pretrained, source.layer,
                                                         source.pooling))


@st.cache_resource(max_entries=4, show_spinner=False)
def embedded_upload(data_key: str, source, zip_path: str) -> user_vectors.Vectors:
    """A large zip upload embedded in batches by the `vizcore embed` job into the disk store (resumed if cut off)."""
    store = embedding_store.store_dir(data_key, source.spec, source.pretrained, source.layer, source.pooling)
    if embed_job.finished(store):  # all on disk: no model and no zip listing needed
        return user_vectors.load(store)
    job = embed_job.EmbedJob(zip_path, source.spec, source.layer, source.pooling, source.pretrained)
    bar = st.progress(0.0, text=f"Embedding the images with {source.title} (kept on disk for next time)…")
    try:
        handle = "pixels" if source.spec == "pixels" else model(source.spec, source.pretrained)
        progress = throttled(bar, f"Embedding with {source.title}")
        try:
            embed_job.run_local(job, store, progress=progress, handle=handle)
        except embed_job.OtherJobError:  # the app's own store, cut off by another version or with a broken manifest:
            shutil.rmtree(store, ignore_errors=True)  # start it again
            store = embedding_store.store_dir(data_key, source.spec, source.pretrained, source.layer, source.pooling)
            embed_job.run_local(job, store, progress=progress, handle=handle)
    finally:
        bar.empty()
    return user_vectors.load(store)


@st.cache_data(max_entries=48, show_spinner=False)
def projection_of(data_key: str, source, method, _X: np.ndarray) -> projection.Projection:
    return projection.run(_X, method=method.method, dims=method.dims, seed=method.seed, **dict(method.params))


@st.cache_data(max_entries=64, show_spinner=False)
def knn_score(data_key: str, source, _X: np.ndarray, _labels: np.ndarray) -> scores.Score:
    return scores.knn_accuracy(_X, _labels, k=20, metric="cosine")


@st.cache_data(max_entries=64, show_spinner=False)
def probe_score(data_key: str, source, _X: np.ndarray, _labels: np.ndarray) -> scores.Score:
    return scores.linear_probe_accuracy(_X, _labels)


@st.cache_data(max_entries=64, show_spinner=False)
def trust_score(data_key: str, source, method, _X: np.ndarray, _Y: np.ndarray) -> scores.Score:
    """Trustworthiness with k = 10 neighbours (fewer for tiny sets: k must stay below N / 2)."""
    return scores.trustworthiness(_X, _Y, k=max(1, min(10, (min(len(_X), scores.TRUST_MAX_POINTS) - 1) // 2)))


# ---- the projector's own vectors ----------------------------------------------------------------------------------

@st.cache_resource(max_entries=4, show_spinner=False)
def uploaded_vectors(key: str, _files: tuple[tuple[str, bytes], ...]) -> user_vectors.Vectors:
    """Uploaded vectors (one file, or a .npy / vectors.tsv and its metadata file), keyed by the sha256 of the files."""
    return user_vectors.load_uploads(_files)


@st.cache_resource(max_entries=4, show_spinner=False)
def path_vectors(path: str, stamp: tuple) -> user_vectors.Vectors:
    """Vectors from a file or `vizcore embed` folder on this server, re-read when `stamp` (sizes, times) changes."""
    return user_vectors.load(path)


@st.cache_resource(max_entries=4, show_spinner=False)
def vector_dataset(key: str, _vectors: user_vectors.Vectors) -> vc.Dataset:
    return vector_sets.as_dataset(_vectors, f"vectors:{key[:16]}")


@st.cache_resource(max_entries=8, show_spinner=False)
def neighbor_index(data_key: str, source, metric: str, _X: np.ndarray) -> neighbors.NeighborIndex:
    """One exact neighbour index per (data, source, metric): a click is one float32 scan + an exact re-rank."""
    return neighbors.NeighborIndex(_X, metric)


@st.cache_data(max_entries=8, show_spinner=False)
def transfer_baseline(data_key: str, spec: str, _dataset: vc.Dataset, max_images: int) -> baseline.TransferBaseline:
    """Pretrained `spec` vs its random-weight twin vs pixels vs PCA on (up to `max_images` of) a data set."""
    n = min(len(_dataset), max_images)
    idx = np.linspace(0, len(_dataset) - 1, n).round().astype(int) if n < len(_dataset) else np.arange(n)
    bar = st.progress(0.0, text="Embedding with the pretrained backbone…")
    try:
        return baseline.transfer_baseline(
            model(spec, True), random_twin(spec), _dataset.images[idx], _dataset.labels[idx],
            progress=lambda i, k, what: bar.progress(i / k, text=f"Scoring {what}…"))
    finally:
        bar.empty()
