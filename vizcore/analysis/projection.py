"""Low-dimensional maps of embeddings (PCA, t-SNE, UMAP) and exact nearest neighbours (scores: `vizcore.scores`).

- PCA: scikit-learn's exact PCA (deterministic signs via `svd_flip`); reports the explained variance ratio.
- t-SNE: van der Maaten & Hinton, "Visualizing Data using t-SNE" (JMLR 2008), Barnes-Hut scikit-learn version.
- UMAP: McInnes, Healy & Melville, "UMAP: Uniform Manifold Approximation and Projection" (2018), umap-learn.

Every map is computed on all N points (no sampling) and is deterministic under `seed`. Inputs are used as
given: nothing is standardised or normalised behind the caller's back (cosine metrics normalise implicitly).

    proj = run(X, method="umap", dims=2, seed=0)        # Projection: coords (N, 2) float32, seconds, ...
    coords = project(X, method="pca", dims=3)           # just the (N, 3) coordinates

UMAP notes: umap-learn is imported lazily (importing it compiles numba code: ~20 s the first time, 3-6 s once
cached on disk under `NUMBA_CACHE_DIR`, set here to `~/.cache/vizcore/numba` unless already set). A seeded UMAP runs
single-threaded (umap-learn forces `n_jobs=1` whenever `random_state` is set); that is the price of
determinism. Only one UMAP fit runs at a time per process (`_UMAP_LOCK`): two concurrent fits can abort it.
Neighbours: exact (blocked matrix products) up to `EXACT_KNN_MAX` points, which also skips NN-descent's
per-process numba compilation; NN-descent above. Init: above `PCA_INIT_ABOVE` points the layout starts from
PCA instead of the spectral embedding: on a connected 100k x 384 k-NN graph the spectral eigensolver took
60-70 s against 2-11 s for PCA (30k points: 4-5 s against 1-3 s; measured on a busy 2-core machine).
The first UMAP fit in a process also compiles umap-learn's uncached numba functions (10-40 s).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vizcore.errors import InputError
from vizcore.numba_cache import use_numba_disk_cache

METHODS = ("pca", "tsne", "umap")
METRICS = ("euclidean", "cosine")
DEFAULTS: dict[str, dict] = {
    "pca": {},
    "tsne": {"perplexity": 30.0, "metric": "euclidean", "max_iter": 1000},
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", "n_epochs": None, "init": None},
}
PCA_INIT_ABOVE = 50_000       # UMAP init=None: "spectral" up to this many points, "pca" above
EXACT_KNN_MAX = 10_000        # UMAP neighbours: exact (matrix products) up to this many points, NN-descent above
TSNE_PARALLEL_ABOVE = 5_000   # t-SNE runs single-threaded below this many points (as fast, immune to busy CPUs)

Progress = Callable[[float, str], object]  # progress(fraction in [0, 1], message)
_UMAP_LOCK = threading.Lock()


@dataclass(frozen=True)
class Projection:
    """A low-dimensional map of N points.

    Attributes:
        coords: (N, dims) float32, row i is point i of the input.
        method: "pca", "tsne" or "umap".
        params: the parameters actually used (after defaults and clipping, e.g. t-SNE perplexity).
        seconds: wall time of the fit.
        explained_variance: (dims,) explained variance ratio per component (PCA only, else None).
    """

    coords: np.ndarray
    method: str
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    explained_variance: np.ndarray | None = None


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


def unit_rows(A: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


def _params(method: str, dims: int, given: dict) -> dict:
    if method not in METHODS:
        raise InputError(f"Unknown projection method {method!r}; choose one of {', '.join(METHODS)}.")
    if dims not in (2, 3):
        raise InputError(f"dims must be 2 or 3; got {dims!r}.")
    unknown = set(given) - set(DEFAULTS[method])
    if unknown:
        allowed = ", ".join(DEFAULTS[method]) or "none"
        raise InputError(f"Unknown parameter(s) {sorted(unknown)} for {method}; accepted: {allowed}.")
    params = {**DEFAULTS[method], **given}
    if params.get("metric", "euclidean") not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}; got {params['metric']!r}.")
    return params


def _exact_knn(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row, the row itself first: (N, D) -> indices, distances (N, k).

    Blocked float32 matrix products (N² D flops): used for UMAP up to `EXACT_KNN_MAX` points, where it is
    faster than NN-descent's per-process numba compilation and gives exact neighbours.
    """
    Xk = unit_rows(X) if metric == "cosine" else X
    sq = (Xk.astype(np.float64) ** 2).sum(1).astype(np.float32)  # (N,)
    n = len(Xk)
    idx, dist = np.empty((n, k), np.int64), np.empty((n, k), np.float32)
    for s in range(0, n, 1024):
        q = Xk[s : s + 1024]
        d = sq[s : s + 1024, None] + sq[None, :] - 2.0 * (q @ Xk.T)  # squared distances (B, N)
        rows = np.arange(len(q))
        d[rows, s + rows] = -1.0  # the point itself sorts first
        part = np.argpartition(d, k - 1, axis=1)[:, :k]  # (B, k) unordered
        dd = np.take_along_axis(d, part, 1)
        order = np.argsort(dd, axis=1, kind="stable")
        idx[s : s + 1024] = np.take_along_axis(part, order, 1)
        dist[s : s + 1024] = np.maximum(np.take_along_axis(dd, order, 1), 0.0)
    # cosine: |a - b|² = 2 - 2 cos for unit vectors, so 1 - cos = |a - b|² / 2
    return idx, (dist / 2.0 if metric == "cosine" else np.sqrt(dist))


def _umap(X: np.ndarray, dims: int, seed: int, p: dict) -> tuple[np.ndarray, None, float]:
    use_numba_disk_cache()
    import umap  # lazy: 3-20 s of numba work in every new process

    n = X.shape[0]
    p["n_neighbors"] = int(min(p["n_neighbors"], n - 1))
    p["init"] = p["init"] or ("pca" if n > PCA_INIT_ABOVE else "spectral")
    if n <= dims + 2:  # the spectral/PCA inits need more points than output dimensions
        p["init"] = "random"
    start, knn = time.perf_counter(), (None, None, None)
    if 4096 <= n <= EXACT_KNN_MAX:  # below 4096 umap-learn itself computes exact neighbours
        knn = (*_exact_knn(X, p["n_neighbors"], p["metric"]), None)
    knn_seconds = time.perf_counter() - start
    reducer = umap.UMAP(n_components=dims, n_neighbors=p["n_neighbors"], min_dist=p["min_dist"], metric=p["metric"],
                        n_epochs=p["n_epochs"], init=p["init"], random_state=seed, n_jobs=1, low_memory=True,
                        precomputed_knn=knn)
    with _UMAP_LOCK, warnings.catch_warnings():  # the clock starts once the lock is ours
        warnings.simplefilter("ignore")  # umap/sklearn deprecation chatter, "no NNDescent index", small-N inits
        start = time.perf_counter()
        coords = reducer.fit_transform(X)
        return coords, None, knn_seconds + time.perf_counter() - start


def _tsne(X: np.ndarray, dims: int, seed: int, p: dict) -> tuple[np.ndarray, None, float]:
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    p["perplexity"] = float(max(1.0, min(p["perplexity"], (X.shape[0] - 1) / 3)))  # 3·perplexity neighbours < N
    tsne = TSNE(n_components=dims, perplexity=p["perplexity"], metric=p["metric"], max_iter=int(p["max_iter"]),
                init="pca", random_state=seed)
    threads = 1 if X.shape[0] < TSNE_PARALLEL_ABOVE else None  # OpenMP spin-waits stall small fits on busy CPUs
    with warnings.catch_warnings(), threadpool_limits(limits=threads, user_api="openmp"):
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        return tsne.fit_transform(X), None, time.perf_counter() - start


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
        seed: fixes every random choice; the same seed gives identical coordinates.
        progress: optional `progress(fraction, message)`, called at start and end (the fits have no finer hook).
        **params: umap: n_neighbors (15, clipped to N-1), min_dist (0.1), metric ("euclidean" | "cosine"),
            n_epochs (None = umap's 500 up to 10k points, 200 above), init (None = "spectral" up to
            `PCA_INIT_ABOVE` points, "pca" above). tsne: perplexity (30, clipped to (N-1)/3), metric,
            max_iter (1000, at least 250). pca: none.

    Returns:
        Projection with coords (N, dims) float32, the parameters actually used and the fit's wall time
        (imports and, for UMAP, waiting for another fit to finish are not counted).
    """
    p = _params(method, dims, params)
    X = as_matrix(X)
    if progress:
        progress(0.0, f"{method.upper()}: projecting {X.shape[0]:,} points of {X.shape[1]} dims to {dims}-D")
    fit = {"pca": _pca, "tsne": _tsne, "umap": _umap}[method]
    coords, variance, seconds = fit(X, dims, seed, p)
    if progress:
        progress(1.0, f"{method.upper()} done in {seconds:.1f} s")
    return Projection(np.ascontiguousarray(coords, dtype=np.float32), method, p, seconds, variance)


def project(X, *, method: str = "umap", dims: int = 2, seed: int = 0, progress: Progress | None = None,
            **params) -> np.ndarray:
    """`run(...)` returning only the (N, dims) float32 coordinates."""
    return run(X, method=method, dims=dims, seed=seed, progress=progress, **params).coords


def _distances(X: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Distances from queries q (M, D) to all rows of X (N, D) -> (M, N) float64."""
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
    X64, q64 = X.astype(np.float64), q.astype(np.float64)
    if metric == "cosine":  # zero vectors have similarity 0 to everything
        return 1.0 - unit_rows(q64) @ unit_rows(X64).T
    sq = (q64**2).sum(1)[:, None] + (X64**2).sum(1)[None, :] - 2.0 * q64 @ X64.T
    return np.sqrt(np.maximum(sq, 0.0))


def nearest_neighbors(X, index: int, k: int = 10, metric: str = "cosine") -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of point `index` in the ORIGINAL space (exact, brute force).

    The point itself is excluded (other points with identical vectors are not). Ties break by lower index.

    Args:
        X: (N, D) embeddings.
        index: row of the query point.
        k: neighbours wanted; clipped to N - 1.
        metric: "cosine" (distance 1 - cos) or "euclidean".

    Returns:
        indices (k,) int64 and distances (k,) float64, nearest first.
    """
    X = as_matrix(X, min_rows=2)
    if not 0 <= index < X.shape[0]:
        raise InputError(f"Point index {index} is outside 0..{X.shape[0] - 1}.")
    if k < 1:
        raise InputError(f"k must be at least 1; got {k}.")
    d = _distances(X, X[index : index + 1], metric)[0]  # (N,)
    d[index] = np.inf
    order = np.lexsort((np.arange(len(d)), d))[: min(k, X.shape[0] - 1)]  # by distance, then index
    return order.astype(np.int64), d[order]
