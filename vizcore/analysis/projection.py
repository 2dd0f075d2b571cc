"""Low-dimensional maps of embeddings (PCA, t-SNE, UMAP); neighbours in `vizcore.analysis.neighbors`.

- PCA: scikit-learn's exact PCA (deterministic signs via `svd_flip`); reports the explained variance ratio.
- t-SNE: van der Maaten & Hinton, "Visualizing Data using t-SNE" (JMLR 2008), through openTSNE (Policar et al.
  2024) with FFT-accelerated interpolation (Linderman et al., "Fast interpolation-based t-SNE", Nature Methods
  2019) in 2-D above `TSNE_FFT_ABOVE` points, Barnes-Hut below and in 3-D, on `TSNE_THREADS` threads; PCA
  initialisation, 250 early-exaggeration iterations, learning rate N/12. Its k = 3 x perplexity neighbours are
  vizcore's own (`neighbors`: exact up to `EXACT_KNN_MAX` points, NN-descent above), so the metric means the
  same as everywhere else.
- UMAP: McInnes, Healy & Melville, "UMAP: Uniform Manifold Approximation and Projection" (2018), umap-learn.
  mode "seeded" (default) is deterministic under `seed` and single-threaded (umap-learn forces n_jobs=1 with a
  random_state); mode "fast" runs the layout on all cores without a seed: about 2x faster, NOT reproducible.

Every map is computed on all N points (no sampling). Inputs are used as given (cosine normalises implicitly).
Every parameter is range-checked (`RANGES`) with an `InputError` that names the valid range.

    proj = run(X, method="umap", dims=2, seed=0)        # Projection: coords (N, 2) float32, seconds, ...
    coords = project(X, method="pca", dims=3)           # just the (N, 3) coordinates

UMAP notes: umap-learn is imported lazily (importing it compiles numba code: ~20 s the first time, 3-6 s once
cached on disk under `NUMBA_CACHE_DIR`, set here to `~/.cache/vizcore/numba` unless already set). Only one UMAP
fit runs at a time per process (`_UMAP_LOCK`): two concurrent fits can abort it. Neighbours: exact up to
`EXACT_KNN_MAX` points (also skips NN-descent's per-process numba compilation), NN-descent above. Init: above
`PCA_INIT_ABOVE` points the layout starts from PCA instead of the spectral embedding (on a connected 100k x 384
k-NN graph the spectral eigensolver took 60-70 s against 2-11 s for PCA).
"""

from __future__ import annotations

import numbers
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vizcore.analysis.neighbors import EXACT_KNN_MAX, METRICS, NeighborIndex, exact_knn, unit_rows
from vizcore.errors import InputError
from vizcore.numba_cache import prepare_numba

__all__ = ["DEFAULTS", "EXACT_KNN_MAX", "METHODS", "METRICS", "RANGES", "Projection", "as_matrix",
           "nearest_neighbors", "project", "run", "unit_rows"]

METHODS = ("pca", "tsne", "umap")
UMAP_MODES = ("seeded", "fast")
DEFAULTS: dict[str, dict] = {
    "pca": {},
    "tsne": {"perplexity": 30.0, "metric": "euclidean", "max_iter": 1000},
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", "n_epochs": None, "init": None,
             "mode": "seeded"},
}
# (low, high, kind) of every numeric parameter a user can set; both ends included.
RANGES: dict[str, tuple[float, float, type]] = {
    "n_neighbors": (2, 1000, int), "min_dist": (0.0, 1.0, float), "n_epochs": (1, 10_000, int),
    "perplexity": (1.0, 500.0, float), "max_iter": (250, 10_000, int), "seed": (0, 2**32 - 1, int),
}
CHOICES = {"metric": METRICS, "init": (None, "spectral", "pca", "random"), "mode": UMAP_MODES}
PCA_INIT_ABOVE = 50_000       # UMAP init=None: "spectral" up to this many points, "pca" above
TSNE_THREADS = 2              # openTSNE threads (this machine has 2 cores)
TSNE_EXAGGERATION_ITER = 250  # early-exaggeration iterations, counted in max_iter
TSNE_FFT_ABOVE = 10_000       # 2-D t-SNE: Barnes-Hut below this many points, FFT interpolation from it (its grid
                              # costs ~50 ms per iteration whatever N: 14 s for 60 points vs < 1 s with BH)

Progress = Callable[[float, str], object]  # progress(fraction in [0, 1], message)
_UMAP_LOCK = threading.Lock()
_exact_knn = exact_knn  # the name earlier tests and benchmarks use


@dataclass(frozen=True)
class Projection:
    """A low-dimensional map of N points.

    Attributes:
        coords: (N, dims) float32, row i is point i of the input.
        method: "pca", "tsne" or "umap".
        params: the parameters actually used (after defaults and clipping, e.g. t-SNE perplexity).
        seconds: wall time of the fit.
        explained_variance: (dims,) explained variance ratio per component (PCA only, else None).
        reproducible: False for UMAP's fast mode (same inputs and seed can give a different map).
    """

    coords: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    explained_variance: np.ndarray | None = None
    reproducible: bool = True


def as_matrix(X, min_rows: int = 3) -> np.ndarray:
    """Array-like or CPU tensor (N, D) -> float32 ndarray, with the checks every function here needs."""
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    with np.errstate(over="ignore"):  # values beyond float32 become inf and are refused below
        arr = np.asarray(X, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise InputError(f"Expected embeddings shaped (N points, D features); got shape {tuple(arr.shape)}.")
    if arr.shape[0] < min_rows:
        raise InputError(f"Need at least {min_rows} points; got {arr.shape[0]}. Select more points.")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise InputError(f"{bad} point(s) contain NaN or infinite values; drop or fix them before projecting.")
    return arr


def check_range(name: str, value, low=None, high=None, kind=None):
    """`value` as `kind` when low <= value <= high (defaults from `RANGES`), else an InputError naming the range."""
    rlow, rhigh, rkind = RANGES.get(name, (low, high, kind))
    low, high, kind = (rlow if low is None else low), (rhigh if high is None else high), (kind or rkind)
    number = numbers.Integral if kind is int else numbers.Real
    ok = isinstance(value, number) and not isinstance(value, bool) and np.isfinite(value) and low <= value <= high
    if not ok:
        what = "an integer" if kind is int else "a number"
        raise InputError(f"{name} must be {what} from {low:g} to {high:g}; got {value!r}.")
    return kind(value)


def _params(method: str, dims: int, seed, given: dict) -> dict:
    if method not in METHODS:
        raise InputError(f"Unknown projection method {method!r}; choose one of {', '.join(METHODS)}.")
    if dims not in (2, 3) or isinstance(dims, bool):
        raise InputError(f"dims must be 2 or 3; got {dims!r}.")
    check_range("seed", seed)
    unknown = set(given) - set(DEFAULTS[method])
    if unknown:
        allowed = ", ".join(DEFAULTS[method]) or "none"
        raise InputError(f"Unknown parameter(s) {sorted(unknown)} for {method}; accepted: {allowed}.")
    params = {**DEFAULTS[method], **given}
    for name, value in params.items():
        if name in CHOICES and value not in CHOICES[name]:
            options = ", ".join(str(c) for c in CHOICES[name])
            raise InputError(f"{name} must be one of {options}; got {value!r}.")
        if name in RANGES and not (name == "n_epochs" and value is None):
            params[name] = check_range(name, value)
    return params


def _knn(X: np.ndarray, k: int, metric: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, k) neighbour indices and distances, self first: exact up to EXACT_KNN_MAX points, NN-descent above."""
    if len(X) <= EXACT_KNN_MAX:
        return exact_knn(X, k, metric)
    prepare_numba()
    from pynndescent import NNDescent

    index = NNDescent(X, metric=metric, n_neighbors=k, random_state=seed, low_memory=True, n_jobs=-1,
                      compressed=True)
    idx, dist = index.neighbor_graph
    return idx.astype(np.int64), dist.astype(np.float32)


def _umap(X: np.ndarray, dims: int, seed: int, p: dict) -> tuple[np.ndarray, None, float]:
    prepare_numba()
    import umap  # lazy: 3-20 s of numba work in every new process

    n = X.shape[0]
    p["n_neighbors"] = int(min(p["n_neighbors"], n - 1))
    p["init"] = p["init"] or ("pca" if n > PCA_INIT_ABOVE else "spectral")
    if n <= dims + 2:  # the spectral/PCA inits need more points than output dimensions
        p["init"] = "random"
    fast = p["mode"] == "fast"
    start = time.perf_counter()
    knn = (*exact_knn(X, p["n_neighbors"], p["metric"]), None) if n <= EXACT_KNN_MAX else (None, None, None)
    knn_seconds = time.perf_counter() - start
    reducer = umap.UMAP(n_components=dims, n_neighbors=p["n_neighbors"], min_dist=p["min_dist"], metric=p["metric"],
                        n_epochs=p["n_epochs"], init=p["init"], random_state=None if fast else seed,
                        n_jobs=-1 if fast else 1, low_memory=True, precomputed_knn=knn)
    with _UMAP_LOCK, warnings.catch_warnings():  # the clock starts once the lock is ours
        warnings.simplefilter("ignore")  # umap/sklearn deprecation chatter, "no NNDescent index", small-N inits
        start = time.perf_counter()
        coords = reducer.fit_transform(X)
        return coords, None, knn_seconds + time.perf_counter() - start


def _tsne(X: np.ndarray, dims: int, seed: int, p: dict) -> tuple[np.ndarray, None, float]:
    import openTSNE
    from openTSNE.nearest_neighbors import PrecomputedNeighbors

    n = X.shape[0]
    p["perplexity"] = float(max(1.0, min(p["perplexity"], (n - 1) / 3)))  # 3·perplexity neighbours < N
    start = time.perf_counter()
    idx, dist = _knn(X, min(n, int(3 * p["perplexity"]) + 1), p["metric"], seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        affinities = openTSNE.affinity.PerplexityBasedNN(
            perplexity=p["perplexity"], knn_index=PrecomputedNeighbors(idx[:, 1:], dist[:, 1:].astype(np.float64)),
            n_jobs=TSNE_THREADS, random_state=seed)
        init = openTSNE.initialization.pca(X, n_components=dims, random_state=seed)
        tsne = openTSNE.TSNE(n_components=dims, n_iter=p["max_iter"] - TSNE_EXAGGERATION_ITER,
                             early_exaggeration_iter=TSNE_EXAGGERATION_ITER, n_jobs=TSNE_THREADS,
                             negative_gradient_method="fft" if dims == 2 and n >= TSNE_FFT_ABOVE else "bh",
                             random_state=seed)
        coords = np.asarray(tsne.fit(affinities=affinities, initialization=init))
    return coords, None, time.perf_counter() - start


def _pca(X: np.ndarray, dims: int, seed: int, p: dict) -> tuple[np.ndarray, np.ndarray, float]:
    from sklearn.decomposition import PCA

    if X.shape[1] < dims:
        raise InputError(f"PCA to {dims} dimensions needs at least {dims} features; got {X.shape[1]}.")
    pca = PCA(n_components=dims, random_state=seed)
    start = time.perf_counter()
    coords = pca.fit_transform(X)
    return coords, pca.explained_variance_ratio_.astype(np.float32), time.perf_counter() - start


def run(X, *, method: str = "umap", dims: int = 2, seed: int = 0, progress: Progress | None = None,
        **params) -> Projection:
    """Project N embeddings to 2 or 3 dimensions with PCA, t-SNE or UMAP.

    Args:
        X: (N, D) embeddings (array-like or CPU tensor), N >= 3, all finite. Used as given (not standardised).
        method: "pca", "tsne" or "umap".
        dims: 2 or 3.
        seed: 0 .. 2**32 - 1; fixes every random choice (except UMAP mode "fast"): same seed, same coordinates.
        progress: optional `progress(fraction, message)`, called at start and end (the fits have no finer hook).
        **params: umap: n_neighbors (15; 2-1,000, clipped to N-1), min_dist (0.1; 0-1), metric ("euclidean" |
            "cosine"), n_epochs (None = umap's 500 up to 10k points, 200 above; else 1-10,000), init (None =
            "spectral" up to `PCA_INIT_ABOVE` points, "pca" above; "random"), mode ("seeded" | "fast").
            tsne: perplexity (30; 1-500, clipped to (N-1)/3), metric, max_iter (1000; 250-10,000, including
            250 early-exaggeration iterations). pca: none.

    Returns:
        Projection with coords (N, dims) float32, the parameters actually used and the fit's wall time
        (imports and, for UMAP, waiting for another fit to finish are not counted).

    Raises:
        InputError: an unknown method or parameter, or a value outside its range (the message names the range).
    """
    p = _params(method, dims, seed, params)
    X = as_matrix(X)
    if progress:
        progress(0.0, f"{method.upper()}: projecting {X.shape[0]:,} points of {X.shape[1]} dims to {dims}-D")
    fit = {"pca": _pca, "tsne": _tsne, "umap": _umap}[method]
    coords, variance, seconds = fit(X, dims, int(seed), p)
    if progress:
        progress(1.0, f"{method.upper()} done in {seconds:.1f} s")
    return Projection(np.ascontiguousarray(coords, dtype=np.float32), method, p, seconds, variance,
                      reproducible=p.get("mode") != "fast")


def project(X, *, method: str = "umap", dims: int = 2, seed: int = 0, progress: Progress | None = None,
            **params) -> np.ndarray:
    """`run(...)` returning only the (N, dims) float32 coordinates."""
    return run(X, method=method, dims=dims, seed=seed, progress=progress, **params).coords


def nearest_neighbors(X, index: int, k: int = 10, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of point `index` in the ORIGINAL space, exact (`neighbors.NeighborIndex`).

    The point itself is excluded (other points with identical vectors are not). Ties break by lower index.
    For many queries on the same X, keep a `NeighborIndex` (the app does).

    Returns:
        indices (k,) int64 and distances (k,) float64, nearest first; k is clipped to N - 1.
    """
    X = as_matrix(X, min_rows=2)
    return NeighborIndex(X, metric).query(index, k)
