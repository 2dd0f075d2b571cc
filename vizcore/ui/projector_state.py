"""The Embedding projector page's state: pickers and cached computations, keyed on names (never on big arrays).

Data: a bundled set, a zip of images, or vectors the user already has (`VECTORS`: an upload or a path on this
server: .npy (+ metadata CSV), Parquet, a TF Projector TSV pair, CSV, or a `vizcore embed` folder with its
map.parquet), read by `vizcore.io.vectors` and shown as a pixel-less `Dataset` (`vizcore.data.vector_sets`).

Caching (see DESIGN "Known traps"): data sets are keyed by name, uploads by the sha256 of the zip; feature
matrices by (data key, `Source`) in `st.cache_resource` as read-only arrays (no copy of up to 10,000 x 12,288
floats per rerun); maps and scores by (data key, `Source`, `Method`) in `st.cache_data`. Progress bars are created
inside the cached functions, so a cache hit replays (and clears) them cleanly. The sections that draw are in
`projector_views`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import vizcore as vc
from vizcore.analysis import embeddings, projection
from vizcore.data import imagesets
from vizcore.io import vectors as user_vectors
from vizcore.models import ViTHandle
from vizcore.ui import cache, widgets
from vizcore.ui.errors import inline_errors

log = logging.getLogger("vizcore.ui")

UPLOAD = "upload"
VECTORS = "vectors"
APP_MAX_IMAGES = imagesets.MAX_IMAGES
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", "stored": "stored map"}
VECTOR_TYPES = ["npy", "parquet", "tsv", "csv"]
LARGE_MAX_IMAGES = 100_000  # zip uploads above APP_MAX_IMAGES are streamed through the `vizcore embed` job
PROBE_AUTO_MAX_DIM = 1024  # wider features (e.g. 12,288 raw pixels) take about a minute: the probe waits for a click
GALLERY_MAX = 60
THUMB = 64
MAX_CATEGORIES = 40  # a text column with more distinct values keeps its 39 most common and groups the rest
TABS = ["Selection", "Nearest neighbours", "Compare sources", "Export"]
DEFAULT_COMPARE = {"digits": ("pixels", "bundled:vae_digits_16d"), "sprites": ("pixels", "bundled:vae_10d"),
                   "scenes": ("pixels", "bundled:tiny_vit")}
KNN_HELP = ("Hold out 20% of every class; each held-out image looks up its 20 nearest training images (cosine "
            "similarity in the original embedding space) and takes their weighted vote, as in DINO. High means "
            "images with the same label sit together, without training anything.")
PROBE_HELP = ("A logistic regression trained on 80% of the embeddings predicts the label of the other 20%. High "
              "means the classes can be separated by straight cuts through the embedding space.")
TRUST_HELP = ("How many of each point's 10 nearest neighbours on the map are also near it in the original space "
              "(1.0 = the map invents no neighbours). Low means some clusters on the map are projection artefacts.")
HOW_TO_LOAD = ("**Open it in the TensorFlow Projector:** unzip, go to [projector.tensorflow.org]"
               "(https://projector.tensorflow.org), click **Load** and choose `vectors.tsv`, then `metadata.tsv`; "
               "in the bookmarks panel (bottom right) load `bookmarks.txt` to see vizcore's own map of all points. "
               "For image thumbnails too, run `tensorboard --logdir <unzipped folder>` and open its Projector tab "
               "(it reads `projector_config.pbtxt` and `sprite.png`).")


@dataclass(frozen=True, eq=False)
class DataChoice:
    """The data set on screen. `key` (a name, "upload:<sha256 prefix>", "vectors:...") is what the caches see.

    `vectors` is set for user vectors (then `dataset.images` is empty: thumbnails come from `vectors`)."""

    key: str
    title: str
    dataset: vc.Dataset | None
    vectors: user_vectors.Vectors | None = None
    stream: str | None = None  # a large zip (kept on disk) embedded in batches once the source is known: `resolve`
    rows: int = 0  # images in the large zip (`stream`)
    images_key: str | None = None  # what the images are keyed by when not `key` (one upload, every model's vectors)


@dataclass(frozen=True)
class Source:
    """An embedding source; hashable, so it keys the caches."""

    spec: str
    title: str
    pretrained: bool = True
    layer: int = -1
    pooling: str = "cls"


@dataclass(frozen=True)
class Method:
    method: str
    dims: int
    seed: int = 0
    params: tuple[tuple[str, object], ...] = ()

    @property
    def name(self) -> str:
        return METHOD_NAMES[self.method]


@dataclass(frozen=True)
class MapOptions:
    """How the map is coloured and searched."""

    color_by: str
    search: str
    search_in: str
    contours: bool


# ---- pickers ------------------------------------------------------------------------------------------------------

def data_picker() -> DataChoice:
    """A bundled data set, or a zip upload (read safely; its skip summary shown)."""
    side = st.sidebar
    names = vc.data.list_datasets()
    labels = {n: n for n in names} | {UPLOAD: "Upload a zip of images…", VECTORS: "Open your own vectors…"}
    name = side.selectbox("Data set", list(labels), index=names.index("digits"), format_func=labels.get,
                          key="pj_data")
    if name == VECTORS:
        return vectors_picker()
    if name != UPLOAD:
        with st.spinner(f"Loading the {name} data set…"), inline_errors():
            return DataChoice(name, name, vc.data.load_dataset(name))
    up = side.file_uploader("Zip of images", type=["zip"], key="pj_zip",
                            help="Labels come from sub-folder names, or from a CSV inside (file name, label, more "
                                 "columns as metadata). Non-images are skipped and counted.")
    side.caption(f"Up to {APP_MAX_IMAGES:,} images in memory; switch on *Large zip* for up to {LARGE_MAX_IMAGES:,}, "
                 "or run `vizcore embed` and open its folder under *Open your own vectors*.")
    stream = side.toggle(f"Large zip: embed in batches on disk (up to {LARGE_MAX_IMAGES:,} images)", key="pj_stream",
                         help=f"Above {APP_MAX_IMAGES:,} images the zip is not decoded into memory: the `vizcore "
                              "embed` job embeds it batch by batch with the chosen model into Parquet on disk "
                              "(reused by later sessions), and the map shows its thumbnails.")
    if up is None:
        st.info("Upload a zip of images in the sidebar, or pick a bundled data set.")
        st.stop()
    blob = up.getvalue()
    sha = cache.bytes_key(blob)
    with inline_errors():
        if stream:
            path, n = cache.kept_upload(sha, blob)
            if n > LARGE_MAX_IMAGES:
                raise vc.VizcoreError(f"{up.name} holds {n:,} images; the app embeds up to {LARGE_MAX_IMAGES:,}. "
                                      "Use `vizcore embed` and open the folder it writes.")
            if n > APP_MAX_IMAGES:  # streamed: embedded in batches into the disk store, never decoded all at once
                side.info(f"{n:,} images: embedded in batches and kept on disk, so the next visit is instant.")
                return DataChoice(f"upload:{sha[:16]}", up.name, None, stream=path, rows=n)
        image_set = cache.upload_set(sha, up.name, blob, APP_MAX_IMAGES)
    _skip_summary(image_set)
    return DataChoice(f"upload:{sha[:16]}", up.name, image_set.dataset)


def vectors_picker() -> DataChoice:
    """Vectors from an upload (one file, or .npy / vectors.tsv with its metadata file) or a path on this server."""
    side = st.sidebar
    ups = side.file_uploader("Vectors file(s)", type=VECTOR_TYPES + ["zip"], accept_multiple_files=True,
                             key="pj_vec_files",
                             help=".npy (N, D) + a metadata .csv; .parquet with a list column of vectors; "
                                  "vectors.tsv + metadata.tsv (TensorFlow Projector); or a .csv of numbers.")
    path = side.text_input("…or a path on this server", key="pj_vec_path",
                           placeholder="/data/run/ (a `vizcore embed` folder) or /data/emb.npy",
                           help=f"Up to {user_vectors.MAX_POINTS:,} points. Large sets load faster from a path "
                                "than through the browser.")
    side.caption(f"Limits: {user_vectors.MAX_POINTS:,} points, {user_vectors.MAX_DIM:,} dimensions, at least 2; "
                 "finite numbers; one metadata row per vector.")
    if not ups and not path.strip():
        st.info("Upload vectors in the sidebar (or type a path on this server): .npy with an optional metadata "
                "CSV, Parquet, the TensorFlow Projector's vectors.tsv + metadata.tsv, a CSV, or a folder written "
                "by `vizcore embed` (with its map from `vizcore project`).")
        st.stop()
    with st.spinner("Reading the vectors…"), inline_errors():
        if ups:
            files = tuple((u.name, u.getvalue()) for u in ups)
            key = cache.bytes_key(b"".join(name.encode() + b"\0" + blob for name, blob in files))
            v = cache.uploaded_vectors(key, files)
            title = " + ".join(name for name, _ in files)
        else:
            stamp = user_vectors.stamp(path.strip())  # the files changed: another key for every cache
            v = cache.path_vectors(path.strip(), stamp)
            key, title = cache.bytes_key(repr((path.strip(), stamp)).encode()), path.strip()
        dataset = cache.vector_dataset(key, v)
    side.success(f"{len(v):,} vectors of {v.X.shape[1]:,} dims" + (" with a stored map" if v.coords is not None
                                                                   else ""), icon="✅")
    return DataChoice(f"vectors:{key[:16]}", title, dataset, v)


def _skip_summary(image_set: imagesets.ImageSet) -> None:
    if not image_set.skipped:
        st.success(image_set.summary(), icon="✅")
        return
    st.info(image_set.summary(), icon="ℹ️")
    with st.expander(f"Files left out ({len(image_set.skipped):,})"):
        st.dataframe(pd.DataFrame(image_set.skipped[:500], columns=["file", "reason"]), hide_index=True)


def source_picker(where, key: str, default: str, data: DataChoice, *, stop: bool = True) -> Source | None:
    """An embedding source (pixels, PCA or any model, through the one model picker) with its layer and pooling
    (ViTs and MAE encoders), drawn in `where`. Returns None (after an inline message) when the model cannot be
    loaded and `stop` is False. User vectors are their own source."""
    if data.vectors is not None:
        where.caption(f"Embedding: the vectors in **{data.title}** ({data.vectors.X.shape[1]:,} dims).")
        return Source(VECTORS, "your vectors")
    kinds = ("pixels",) if data.stream else ("pixels", "pca")  # PCA fits all images at once: not batch by batch
    pixel_like = {i.spec: i.title for i in cache.embedding_sources() if i.kind in kinds}
    choice = widgets.model_picker(*embeddings.TOKEN_KINDS, *embeddings.CODE_KINDS, label="Embedding source",
                                  key=key, default=default, where=where, extra=pixel_like, stop=stop)
    if choice is None:
        return None
    if choice.spec in pixel_like:
        return Source(choice.spec, choice.title)
    with inline_errors(stop=stop):
        handle = cache.model(choice.spec, choice.pretrained)
        _domain_note(where, handle, data)
        if not isinstance(handle, ViTHandle):
            return Source(choice.spec, choice.title, choice.pretrained)
        return Source(choice.spec, choice.title, choice.pretrained, *_token_options(where, key, handle))
    return None


def _token_options(where, key: str, handle) -> tuple[int, str]:
    n = handle.num_layers
    block = where.slider("Layer (block output)", 1, n, n, key=f"{key}_layer",
                         help=f"Block {n} gives the model's final, normed features; earlier blocks are raw outputs.")
    has_cls = _has_cls(handle)
    options = ["cls", "mean"] if has_cls else ["mean"]
    pooling = where.radio("Pooling", options, horizontal=True, key=f"{key}_pool",
                          format_func={"cls": "CLS token", "mean": "mean of patch tokens"}.get)
    return (-1 if block == n else block - 1), pooling


def _has_cls(handle) -> bool:
    try:
        return bool(handle.layout(tuple(handle.preprocess.size)).has_cls)
    except Exception:  # an unusual handle: offer both, `embeddings.compute` explains a missing CLS token
        return True


def _domain_note(where, handle, data: DataChoice) -> None:
    trained = getattr(handle, "dataset", None)
    if trained and trained != data.key:
        size = getattr(getattr(handle, "cfg", None), "image_size", None)
        fit = f" resized to {size[0]}×{size[1]}" if size else " resized"
        where.caption(f"⚠️ {handle.info.title} was trained on {trained}: these images are{fit} to fit it, so the "
                      "map shows how it sees unfamiliar input.")


def method_picker(data: DataChoice | None = None) -> Method:
    side = st.sidebar
    stored = data is not None and data.vectors is not None and data.vectors.coords is not None
    methods = [m for m in METHOD_NAMES if m != "stored" or stored]
    method = side.radio("Projection", methods, format_func=METHOD_NAMES.get, horizontal=True,
                        key="pj_method", help="PCA is linear and fast; t-SNE and UMAP keep local neighbourhoods. "
                                              "'stored map': the coordinates `vizcore project` wrote.")
    if method == "stored":
        return Method("stored", data.vectors.coords.shape[1])
    dims = side.radio("Dimensions", [2, 3], format_func=lambda d: f"{d}-D", horizontal=True, key="pj_dims",
                      help="Selections and density contours work on the 2-D map.")
    if method == "pca":
        return Method("pca", dims)
    d = projection.DEFAULTS[method]
    with side.expander(f"{METHOD_NAMES[method]} settings", expanded=True):
        if method == "umap":
            params = (("n_neighbors", st.slider("n_neighbors", 2, 200, d["n_neighbors"], key="pj_nn",
                                                help="Larger: more global structure; smaller: finer local detail.")),
                      ("min_dist", st.slider("min_dist", 0.0, 0.99, d["min_dist"], 0.01, key="pj_min_dist",
                                             help="How tightly points may pack together on the map.")))
            mode = st.radio("mode", projection.UMAP_MODES, horizontal=True, key="pj_umap_mode",
                            format_func={"seeded": "seeded (reproducible)", "fast": "fast (not reproducible)"}.get,
                            help="fast: all cores, no seed: about 2x faster, but every run gives another map.")
            params += (("mode", mode),)
        else:
            params = (("perplexity", st.slider("perplexity", 5.0, 100.0, d["perplexity"], 1.0, key="pj_perp",
                                               help="About how many neighbours each point pays attention to.")),)
        metric = st.radio("metric", projection.METRICS, horizontal=True, key="pj_metric")
        seed = int(st.number_input("seed", 0, 10_000, 0, key="pj_seed"))
    return Method(method, dims, seed, (*params, ("metric", metric)))


# ---- cached computations ------------------------------------------------------------------------------------------

def resolve(data: DataChoice, source: Source) -> DataChoice:
    """A streamed upload becomes vectors once its source is chosen (embedded in batches, stored, then reused)."""
    if data.stream is None:
        return data
    key = f"{data.key}:{source.spec}:{source.pretrained}:{source.layer}:{source.pooling}"
    started = st.session_state.setdefault("_pj_embedding", set())  # jobs this session asked for: reruns go on
    if key not in started and not cache.upload_embedded(data.key, source):
        st.info(f"{data.rows:,} images in {data.title}. Choose how to embed them in the sidebar (source, layer, "
                "pooling), then start: the vectors are written to disk in batches, so each choice is embedded once "
                "and reused by later sessions (a run cut off resumes where it stopped).")
        how = "" if (source.layer, source.pooling) == (-1, "cls") else (  # a ViT's non-default layer or pooling
            f" (block {source.layer + 1 if source.layer >= 0 else 'last'}, "
            f"{'CLS token' if source.pooling == 'cls' else 'mean of patch tokens'})")
        st.button(f"Embed the {data.rows:,} images with {source.title}{how}", key="pj_embed_go", type="primary",
                  on_click=started.add, args=(key,))  # before the next run: it goes on through reruns
        st.stop()
    v = cache.embedded_upload(data.key, source, data.stream)
    return DataChoice(key, data.title, cache.vector_dataset(key, v), v, images_key=data.key)


def features(data: DataChoice, source: Source) -> np.ndarray:
    """(N, D) float32 features of every image (read-only)."""
    if data.vectors is not None:
        return data.vectors.X
    if source.spec == "pixels":  # a view of the cached images: no copy of up to 10,000 x 12,288 floats
        X = data.dataset.images.flatten(1).numpy()
        X.flags.writeable = False  # (the view only: the data set stays as it is)
        return X
    return cache.features(data.key, source, data.dataset)


def project(data: DataChoice, source: Source, method: Method, X: np.ndarray) -> projection.Projection:
    if method.method == "stored":
        return projection.Projection(data.vectors.coords, "stored", {}, 0.0)
    slow = "" if method.method == "pca" else " (t-SNE and UMAP on all points take seconds to minutes)"
    with st.spinner(f"{method.name}: mapping all {len(X):,} points of {X.shape[1]:,} dimensions to "
                    f"{method.dims}-D{slow}…"):
        return cache.projection_of(data.key, source, method, X)


_warm_lock = threading.Lock()
_warm_started = False


def warm_umap() -> None:
    """Once per process, fit a tiny UMAP in the background so the user's first UMAP skips ~20 s of numba compiling.

    `projection` serialises UMAP fits with a lock, so this never runs two fits at once.
    """
    global _warm_started
    with _warm_lock:
        if _warm_started:
            return
        _warm_started = True

    def fit() -> None:
        try:
            X = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
            projection.run(X, method="umap", n_epochs=5)
        except Exception:  # a warm-up only: the real fit reports its own errors
            log.exception("UMAP warm-up failed")

    threading.Thread(target=fit, name="vizcore-umap-warmup", daemon=True).start()


# ---- the map ------------------------------------------------------------------------------------------------------

