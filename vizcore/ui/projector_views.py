"""The Embedding projector page's pieces: pickers, cached computations (keyed on names), and one helper per section.

Caching (see DESIGN "Known traps"): nothing is keyed on a big array. Data sets are keyed by name, uploads by the
sha256 of the zip; feature matrices by (data key, `Source`) in `st.cache_resource` as read-only arrays (no copy of
up to 10,000 x 12,288 floats per rerun); maps and scores by (data key, `Source`, `Method`) in `st.cache_data`.
Progress bars are created inside the cached functions, so a cache hit replays (and clears) them cleanly.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import vizcore as vc
from vizcore import embeddings, export, figures, imagesets, projection, render
from vizcore.figures.projector import MAP_HEIGHT
from vizcore.ui import cache
from vizcore.ui.errors import inline_errors

log = logging.getLogger("vizcore.ui")

UPLOAD, OTHER = "upload", "other"
APP_MAX_IMAGES = imagesets.MAX_IMAGES
METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
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
    """The data set on screen. `key` (a name, or "upload:<sha256 prefix>") is what the caches see."""

    key: str
    title: str
    dataset: vc.Dataset


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
class Display:
    color_by: str
    search: str
    search_in: str
    contours: bool


# ---- pickers ------------------------------------------------------------------------------------------------------

def data_picker() -> DataChoice:
    """A bundled data set, or a zip upload (read safely; its skip summary shown)."""
    side = st.sidebar
    names = vc.data.list_datasets()
    labels = {n: n for n in names} | {UPLOAD: "Upload a zip of images…"}
    name = side.selectbox("Data set", list(labels), index=names.index("digits"), format_func=labels.get,
                          key="pj_data")
    if name != UPLOAD:
        with st.spinner(f"Loading the {name} data set…"), inline_errors():
            return DataChoice(name, name, vc.data.load_dataset(name))
    up = side.file_uploader("Zip of images", type=["zip"], key="pj_zip",
                            help="Labels come from sub-folder names, or from a CSV inside (file name, label, more "
                                 "columns as metadata). Non-images are skipped and counted.")
    side.caption(f"Up to {APP_MAX_IMAGES:,} images here. For more, run `vizcore export-projector --zip FILE "
                 "--max-images N --out DIR` and open the folder in the projector.")
    if up is None:
        st.info("Upload a zip of images in the sidebar, or pick a bundled data set.")
        st.stop()
    blob = up.getvalue()
    sha = hashlib.sha256(blob).hexdigest()
    with inline_errors():
        image_set = _upload_set(sha, up.name, blob)
    _skip_summary(image_set)
    return DataChoice(f"upload:{sha[:16]}", up.name, image_set.dataset)


@st.cache_resource(max_entries=4, show_spinner=False)
def _upload_set(sha: str, name: str, _blob: bytes) -> imagesets.ImageSet:
    """The images of an uploaded zip, keyed by its sha256 (`_blob` itself is never hashed by Streamlit)."""
    bar = st.progress(0.0, text=f"Reading {name}…")
    upload = io.BytesIO(_blob)
    upload.name = name  # messages name the user's file
    try:
        return imagesets.from_zip(upload, max_images=APP_MAX_IMAGES, progress=_throttled(bar, "Decoding"))
    finally:
        bar.empty()


def _throttled(bar, verb: str):
    """A progress(done, total) callback that redraws the bar at most 100 times."""
    last = [-1]

    def update(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct != last[0]:
            last[0] = pct
            bar.progress(pct / 100, text=f"{verb}: {done:,} of {total:,} images")

    return update


def _skip_summary(image_set: imagesets.ImageSet) -> None:
    if not image_set.skipped:
        st.success(image_set.summary(), icon="✅")
        return
    st.info(image_set.summary(), icon="ℹ️")
    with st.expander(f"Files left out ({len(image_set.skipped):,})"):
        st.dataframe(pd.DataFrame(image_set.skipped[:500], columns=["file", "reason"]), hide_index=True)


@st.cache_data(ttl=60, show_spinner=False)
def _sources() -> dict[str, str]:
    return {i.spec: i.title + ("" if i.offline else " · weights not on this machine")
            for i in embeddings.list_sources()}


def source_picker(where, key: str, default: str, data: DataChoice, *, stop: bool = True) -> Source | None:
    """An embedding source with its layer and pooling (ViT / MAE) and random weights (models), drawn in `where`.

    Returns None (after an inline message) when the model cannot be loaded and `stop` is False.
    """
    labels = _sources() | {OTHER: "Other model spec…"}
    specs = list(labels)
    spec = where.selectbox("Embedding source", specs, index=specs.index(default) if default in specs else 0,
                           format_func=labels.get, key=key,
                           help="Raw pixels and PCA are baselines; the bundled models were trained here.")
    title = labels[spec]
    if spec == OTHER:
        spec = where.text_input("Model spec", placeholder="timm:vit_small_patch16_224.dino", key=f"{key}_spec",
                                help="timm:<name> (weights from the local cache) or file:<path to a checkpoint>")
        spec, title = spec.strip(), spec.strip()
        if not spec:
            where.info("Type a model spec to continue.")
            if stop:
                st.stop()
            return None
    if spec == "pixels" or spec.startswith("pca:"):
        return Source(spec, title)
    pretrained = not where.toggle("Random weights (untrained)", value=False, key=f"{key}_random",
                                  help="The same architecture before training: see what learning added.")
    title += "" if pretrained else " (random weights)"
    with inline_errors(stop=stop):
        handle = cache.model(spec, pretrained)
        _domain_note(where, handle, data)
        if handle.info.kind not in embeddings.TOKEN_KINDS:
            return Source(spec, title, pretrained)
        return Source(spec, title, pretrained, *_token_options(where, key, handle))
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


def method_picker() -> Method:
    side = st.sidebar
    method = side.radio("Projection", list(METHOD_NAMES), format_func=METHOD_NAMES.get, horizontal=True,
                        key="pj_method", help="PCA is linear and fast; t-SNE and UMAP keep local neighbourhoods.")
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
        else:
            params = (("perplexity", st.slider("perplexity", 5.0, 100.0, d["perplexity"], 1.0, key="pj_perp",
                                               help="About how many neighbours each point pays attention to.")),)
        metric = st.radio("metric", projection.METRICS, horizontal=True, key="pj_metric")
        seed = int(st.number_input("seed", 0, 10_000, 0, key="pj_seed"))
    return Method(method, dims, seed, (*params, ("metric", metric)))


# ---- cached computations ------------------------------------------------------------------------------------------

def features(data: DataChoice, source: Source) -> np.ndarray:
    """(N, D) float32 features of every image (read-only)."""
    if source.spec == "pixels":  # a view of the cached images: no copy of up to 10,000 x 12,288 floats
        X = data.dataset.images.flatten(1).numpy()
        X.flags.writeable = False  # (the view only: the data set stays as it is)
        return X
    return _features(data.key, source, data.dataset)


@st.cache_resource(max_entries=8, show_spinner=False)
def _features(data_key: str, source: Source, _dataset: vc.Dataset) -> np.ndarray:
    model = source.spec if source.spec.startswith("pca:") else cache.model(source.spec, source.pretrained)
    n = len(_dataset)
    bar = st.progress(0.0, text=f"Embedding {n:,} images with {source.title}…")
    try:
        X = embeddings.compute(model, _dataset.images, layer=source.layer, pooling=source.pooling,
                               progress=_throttled(bar, f"Embedding with {source.title}"))
    finally:
        bar.empty()
    X.flags.writeable = False  # shared by every session
    return X


def project(data: DataChoice, source: Source, method: Method, X: np.ndarray) -> projection.Projection:
    slow = "" if method.method == "pca" else " (t-SNE and UMAP on all points take seconds to minutes)"
    with st.spinner(f"{method.name}: mapping all {len(X):,} points of {X.shape[1]:,} dimensions to "
                    f"{method.dims}-D{slow}…"):
        return _projection(data.key, source, method, X)


@st.cache_data(max_entries=48, show_spinner=False)
def _projection(data_key: str, source: Source, method: Method, _X: np.ndarray) -> projection.Projection:
    return projection.run(_X, method=method.method, dims=method.dims, seed=method.seed, **dict(method.params))


@st.cache_data(max_entries=64, show_spinner=False)
def _knn(data_key: str, source: Source, _X: np.ndarray, _labels: np.ndarray) -> projection.Score:
    return projection.knn_accuracy(_X, _labels, k=20, metric="cosine")


@st.cache_data(max_entries=64, show_spinner=False)
def _probe(data_key: str, source: Source, _X: np.ndarray, _labels: np.ndarray) -> projection.Score:
    return projection.linear_probe_accuracy(_X, _labels)


@st.cache_data(max_entries=64, show_spinner=False)
def _trust(data_key: str, source: Source, method: Method, _X: np.ndarray, _Y: np.ndarray) -> projection.Score:
    """Trustworthiness with k = 10 neighbours (fewer for tiny sets: k must stay below N / 2)."""
    return projection.trustworthiness(_X, _Y, k=max(1, min(10, (min(len(_X), projection.TRUST_MAX_POINTS) - 1) // 2)))


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

def describe(data: DataChoice, source: Source, X: np.ndarray, proj: projection.Projection) -> str:
    _, C, H, W = data.dataset.images.shape
    return (f"**{data.title}**: {len(X):,} images ({H}×{W} {'grey' if C == 1 else 'colour'}), "
            f"{len(data.dataset.label_names)} labels · **{source.title}**: {X.shape[1]:,}-d vectors · "
            f"{METHOD_NAMES[proj.method]} {proj.coords.shape[1]}-D of all points in {proj.seconds:.1f} s")


def map_controls(data: DataChoice, method: Method) -> Display:
    columns = ["label", *data.dataset.metadata]
    c1, c2, c3, c4 = st.columns([2, 3, 2, 2], vertical_alignment="bottom")
    color_by = c1.selectbox("Colour by", columns, key="pj_color")
    search = c2.text_input("Search", key="pj_search", placeholder="e.g. 3, cat, astronaut",
                           help="Highlights the points whose value matches (exactly, or else as a substring).")
    search_in = c3.selectbox("Search in", ["label", "id", *data.dataset.metadata], key="pj_search_in")
    contours = c4.toggle("Density contours", value=False, key="pj_contours", disabled=method.dims == 3)
    return Display(color_by, search.strip(), search_in, contours and method.dims == 2)


def _column(data: DataChoice, name: str) -> np.ndarray:
    d = data.dataset
    if name == "label":
        return np.asarray(d.label_names, dtype=object)[d.labels]
    if name == "id":
        return np.asarray(d.ids, dtype=object)
    return np.asarray(d.metadata[name], dtype=object)


def search_matches(data: DataChoice, display: Display) -> np.ndarray | None:
    """(N,) bool of the points whose `search_in` value equals the query (case-insensitive), else contains it."""
    if not display.search:
        return None
    values = np.array([str(v).casefold() for v in _column(data, display.search_in)])
    query = display.search.casefold()
    exact = values == query
    return exact if exact.any() else np.char.find(values.astype(str), query) >= 0


def _colours(data: DataChoice, name: str) -> dict:
    """Keyword arguments of `projection_scatter` for colouring by label or by a metadata column."""
    d = data.dataset
    if name == "label":
        return dict(categories=d.labels, category_names=d.label_names, color_title="label")
    raw = np.asarray(d.metadata[name])
    if raw.dtype.kind in "iuf":  # numbers: a colour scale, or one colour per value when there are few
        values, codes = np.unique(raw, return_inverse=True)
        if len(values) > 12:
            return dict(values=raw.astype(np.float32), color_title=name)
        return dict(categories=codes, category_names=tuple(f"{v:g}" for v in values), color_title=name)
    text = np.array([str(v) for v in raw])
    names, counts = np.unique(text, return_counts=True)
    if len(names) > MAX_CATEGORIES:
        keep = names[np.argsort(-counts, kind="stable")[: MAX_CATEGORIES - 1]]
        text = np.where(np.isin(text, keep), text, "(other)")
        names = np.unique(text)
    return dict(categories=np.searchsorted(names, text), category_names=tuple(names), color_title=name)


def _hover(data: DataChoice, color_by: str) -> np.ndarray:
    d = data.dataset
    base = [f"{i} · label {d.label_names[k]}" for i, k in zip(d.ids, d.labels)]
    if color_by == "label":
        return np.asarray(base, dtype=object)
    return np.asarray([f"{b}<br>{color_by} {v}" for b, v in zip(base, d.metadata[color_by])], dtype=object)


def map_figure(data: DataChoice, source: Source, proj: projection.Projection, display: Display, *,
               matches=None, height: int = MAP_HEIGHT, color_by: str | None = None):
    dims = proj.coords.shape[1]
    name = METHOD_NAMES[proj.method]
    if proj.explained_variance is not None:
        axes = [f"PC {i + 1} ({v:.1%} of variance)" for i, v in enumerate(proj.explained_variance)]
        note = "axes are the directions of largest variance"
    else:
        axes = [f"{name} {i + 1}" for i in range(dims)]
        note = "axes have no units: neighbourhoods are meaningful, distances between clusters are not"
    return figures.projection_scatter(
        proj.coords, title=f"{data.title} · {source.title} · {name} {dims}-D",
        subtitle=f"all {len(proj.coords):,} images, one dot each; {note}", axis_titles=axes,
        hover=_hover(data, color_by or display.color_by), highlight=matches,
        highlight_name=f"'{display.search}'", contours=display.contours, height=height,
        **_colours(data, color_by or display.color_by))


def draw_map(data: DataChoice, source: Source, proj: projection.Projection, display: Display,
             matches) -> list[int]:
    """The main map; returns the global rows of the points selected on it (2-D only)."""
    fig = map_figure(data, source, proj, display, matches=matches)
    if proj.coords.shape[1] == 3:
        st.plotly_chart(fig, width="stretch", key="pj_map3d")
        st.caption("Drag to rotate, scroll to zoom. Selecting points works on the 2-D map; here, search or type a "
                   "row number under *Nearest neighbours*.")
        return []
    event = st.plotly_chart(fig, width="stretch", key="pj_map", on_select="rerun",
                            selection_mode=("points", "box", "lasso"))
    st.caption("Drag a box (or pick *Lasso Select* in the toolbar) to select images; click one point to see its "
               "nearest neighbours. Double-click to clear.")
    return selected_rows(event, len(proj.coords))


def follow_selection(rows: list[int]) -> None:
    """Open the neighbours tab when the user has just clicked a single point (call before drawing the tabs)."""
    previous = st.session_state.get("pj_last_selection")
    st.session_state.pj_last_selection = rows
    if len(rows) == 1 and rows != previous:
        st.session_state.pj_tab = TABS[1]


def selected_rows(event, n: int) -> list[int]:
    """Global row numbers (from `customdata`) of the selected points, sorted and unique."""
    rows = set()
    for p in (event.selection.points if event else []):
        c = p.get("customdata")
        c = c[0] if isinstance(c, (list, tuple)) else c
        if c is not None and 0 <= int(c) < n:
            rows.add(int(c))
    return sorted(rows)


# ---- beside the map: quality --------------------------------------------------------------------------------------

def quality(data: DataChoice, source: Source, method: Method, X: np.ndarray, proj: projection.Projection) -> None:
    st.markdown("**Embedding quality**")
    labels = data.dataset.labels
    if len(np.unique(labels)) < 2:
        st.caption("Every image has the same label, so there is nothing to classify. Add labels (sub-folders or a "
                   "CSV) to score the embedding.")
    else:
        with st.spinner("Scoring the embedding…"), inline_errors(stop=False):
            _accuracy_metric("kNN accuracy (k=20)", _knn(data.key, source, X, labels), KNN_HELP)
        with inline_errors(stop=False):
            _probe_metric(data, source, X, labels)
    with st.spinner("Scoring the map…"), inline_errors(stop=False):
        t = _trust(data.key, source, method, X, proj.coords)
        st.metric(f"Trustworthiness ({proj.coords.shape[1]}-D)", f"{t.value:.3f}",
                  help=f"{TRUST_HELP} {t.detail}")
    if proj.explained_variance is not None:
        ev = proj.explained_variance
        st.metric("PCA variance shown", f"{ev.sum():.1%}",
                  help="Share of the embedding's total variance along the plotted principal components (the "
                       "rest is invisible on this map).")
        st.caption(" · ".join(f"PC {i + 1}: {v:.1%}" for i, v in enumerate(ev)))


def _accuracy_metric(label: str, score: projection.Score, help_text: str) -> None:
    chance = f"chance {score.chance:.0%}" if score.chance is not None else None
    st.metric(label, f"{score.value:.1%}", delta=chance, delta_color="off", delta_arrow="off",
              help=f"{help_text} {score.detail}")


def _probe_metric(data: DataChoice, source: Source, X: np.ndarray, labels: np.ndarray) -> None:
    key = f"pj_probe_on:{data.key}:{source.spec}:{source.pretrained}:{source.layer}:{source.pooling}"
    if X.shape[1] > PROBE_AUTO_MAX_DIM and not st.session_state.get(key):
        st.button(f"Linear probe ({X.shape[1]:,}-d: about a minute)", key=f"{key}:button",
                  help=PROBE_HELP, on_click=lambda: st.session_state.update({key: True}))
        return
    with st.spinner("Training the linear probe…"):
        _accuracy_metric("Linear probe", _probe(data.key, source, X, labels), PROBE_HELP)


# ---- tabs ---------------------------------------------------------------------------------------------------------

def _thumb(image) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 (h, w, 3), small images enlarged by whole pixels (crisp, not blurred)."""
    a = render.as_uint8(image)
    k = max(1, THUMB // max(a.shape[:2]))
    a = a.repeat(k, 0).repeat(k, 1) if k > 1 else a
    return np.pad(a, ((3, 3), (3, 3), (0, 0)), constant_values=255)  # a white margin keeps dark images apart


def selection(data: DataChoice, rows: list[int], matches) -> None:
    """Gallery of the selected images (else of the search matches) with label counts."""
    what = "selected"
    if not rows and matches is not None and matches.any():
        rows, what = np.flatnonzero(matches).tolist(), "matching the search"
    if not rows:
        st.info("Drag a box or a lasso over the 2-D map to see those images here with their label counts, or "
                "search for a label.")
        return
    d = data.dataset
    images = f"{len(rows):,} image{'s' if len(rows) > 1 else ''} {what}"
    st.markdown(f"**{images}**" + (f" (showing the first {GALLERY_MAX})" if len(rows) > GALLERY_MAX else ""))
    counts = np.bincount(d.labels[rows], minlength=len(d.label_names))
    totals = np.bincount(d.labels, minlength=len(d.label_names))
    st.plotly_chart(figures.label_counts_figure(d.label_names, counts.tolist(), totals.tolist(),
                                                title=f"Labels of the {images}"), width="stretch", key="pj_counts")
    shown = rows[:GALLERY_MAX]
    st.image([_thumb(d.images[i]) for i in shown], width=THUMB + 8,
             caption=[f"{d.label_names[d.labels[i]]} · {d.ids[i].rsplit('/', 1)[-1]}" for i in shown])


@st.fragment
def neighbours(data: DataChoice, source: Source, X: np.ndarray, rows: list[int]) -> None:
    """The k nearest neighbours of one point in the original embedding space, as thumbnails with distances."""
    d = data.dataset
    c1, c2, c3 = st.columns(3)
    k = c1.slider("Neighbours (k)", 1, 30, 10, key="pj_k")
    metric = c2.radio("Distance in the original embedding space", projection.METRICS[::-1], horizontal=True,
                      key="pj_nn_metric", help="cosine: 1 − cosine similarity; euclidean: straight-line distance.")
    if len(rows) == 1:
        query = rows[0]
        c3.markdown(f"Query: the point you clicked (row {query:,}).")
    else:
        query = int(c3.number_input("Query point (row number)", 0, len(X) - 1, 0, key="pj_query",
                                    help="Or click a single point on the 2-D map."))
    idx, dist = projection.nearest_neighbors(X, query, k=k, metric=metric)
    same = int((d.labels[idx] == d.labels[query]).sum())
    q1, q2 = st.columns([1, 6])
    q1.image(_thumb(d.images[query]), width=THUMB * 2,
             caption=f"query: {d.label_names[d.labels[query]]} · {d.ids[query]}")
    q2.markdown(f"**{len(idx)} nearest neighbours** of `{d.ids[query]}` in the {X.shape[1]:,}-d space of "
                f"{source.title} ({metric} distance); **{same} of {len(idx)}** share its label.")
    q2.image([_thumb(d.images[i]) for i in idx], width=THUMB + 8,
             caption=[f"{d.label_names[d.labels[i]]} · d = {v:.3f}" for i, v in zip(idx, dist)])


@st.fragment
def compare(data: DataChoice, method: Method) -> None:
    """Two embedding sources side by side: each one's 2-D map (same method) and its quality scores."""
    st.caption(f"Both maps use {method.name} in 2-D with the settings in the sidebar and are coloured by label. The "
               "linear probe is skipped here for features wider than "
               f"{PROBE_AUTO_MAX_DIM:,} dimensions (run it from the main view).")
    defaults = DEFAULT_COMPARE.get(data.key, ("pixels", "pca:50"))
    keys = ("pj_cmp_a", "pj_cmp_b")
    sources = []
    for col, default, key in zip(st.columns(2), defaults, keys):  # pickers in one row, so the maps line up below
        with col:
            sources.append(source_picker(st, key, default, data, stop=False))
    scores = {}
    for col, source, key in zip(st.columns(2), sources, keys):
        with col, inline_errors(stop=False):
            if source is not None:
                scores[source.title] = _compare_column(data, source, Method(method.method, 2, method.seed,
                                                                            method.params), key)
    if len(scores) == 2 and len(set(scores)) == 2:
        st.plotly_chart(figures.quality_comparison_figure(scores), width="stretch", key="pj_cmp_bars")


def _compare_column(data: DataChoice, source: Source, method: Method, key: str) -> dict[str, float | None]:
    X = features(data, source)
    proj = project(data, source, method, X)
    display = Display("label", "", "label", False)
    st.plotly_chart(map_figure(data, source, proj, display, height=480), width="stretch", key=f"{key}_map")
    labels = data.dataset.labels
    out: dict[str, float | None] = {"kNN accuracy": None, "linear-probe accuracy": None, "trustworthiness": None}
    cols = st.columns(3)
    if len(np.unique(labels)) >= 2:
        knn = _knn(data.key, source, X, labels)
        cols[0].metric("kNN accuracy", f"{knn.value:.1%}", help=f"{KNN_HELP} {knn.detail}")
        out["kNN accuracy"] = knn.value
        if X.shape[1] <= PROBE_AUTO_MAX_DIM:
            probe = _probe(data.key, source, X, labels)
            cols[1].metric("Linear probe", f"{probe.value:.1%}", help=f"{PROBE_HELP} {probe.detail}")
            out["linear-probe accuracy"] = probe.value
        else:
            cols[1].metric("Linear probe", "–", help=f"Skipped: {X.shape[1]:,}-d features take about a minute.")
    t = _trust(data.key, source, method, X, proj.coords)
    cols[2].metric("Trustworthiness", f"{t.value:.3f}", help=f"{TRUST_HELP} {t.detail}")
    out["trustworthiness"] = t.value
    st.caption(f"{X.shape[1]:,}-d features · {method.name} in {proj.seconds:.1f} s")
    return out


def _metadata(data: DataChoice) -> dict[str, list]:
    d = data.dataset
    return {"label": [d.label_names[k] for k in d.labels], "id": list(d.ids), **{k: list(v) for k, v in
                                                                                   d.metadata.items()}}


def exports(data: DataChoice, source: Source, X: np.ndarray, proj: projection.Projection, rows: list[int]) -> None:
    """Downloads (built only when clicked): the TF Projector zip; coordinates + metadata of all points or selected."""
    st.markdown(HOW_TO_LOAD)
    meta = _metadata(data)
    slug = "".join(c if c.isalnum() else "_" for c in f"{data.title}_{source.spec}").strip("_")
    tensor = f"{data.title} · {source.title}"
    images = data.dataset.images
    st.download_button(
        f"TensorFlow Projector files (zip: {len(X):,} vectors of {X.shape[1]:,} dims, sprite, bookmark of this "
        f"{METHOD_NAMES[proj.method]} map)",
        lambda: export.write_zip(X, meta, sprite_images=images, projection=proj, tensor_name=tensor),
        file_name=f"{slug}_projector.zip", mime="application/zip", on_click="ignore", key="pj_dl_zip",
        icon=":material/download:", type="primary")
    table = export.coordinates_table(proj.coords, {k: v for k, v in meta.items() if k != "id"}, ids=meta["id"])
    name = f"{slug}_{proj.method}{proj.coords.shape[1]}d"
    c1, c2 = st.columns(2)
    c1.markdown(f"**All {len(table):,} points** (id, coordinates, label, metadata)")
    c2.markdown(f"**The selection** ({len(rows):,} points)" if rows else
                "**The selection** (select points on the 2-D map first)")
    for fmt, fn, mime in (("CSV", export.to_csv, "text/csv"), ("Parquet", export.to_parquet,
                                                                 "application/vnd.apache.parquet")):
        ext = fmt.lower()
        c1.download_button(f"Coordinates ({fmt})", lambda fn=fn: fn(table), file_name=f"{name}.{ext}", mime=mime,
                           on_click="ignore", key=f"pj_dl_all_{ext}", icon=":material/table:")
        c2.download_button(f"Selection ({fmt})", lambda fn=fn: fn(table, rows), file_name=f"{name}_selection.{ext}",
                           mime=mime, on_click="ignore", key=f"pj_dl_sel_{ext}", icon=":material/table:",
                           disabled=not rows)
