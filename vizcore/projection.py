"""Low-dimensional maps of embeddings (PCA, t-SNE, UMAP) and scores of how much structure they keep.

- PCA: scikit-learn's exact PCA (deterministic signs via `svd_flip`); reports the explained variance ratio.
- t-SNE: van der Maaten & Hinton, "Visualizing Data using t-SNE" (JMLR 2008), Barnes-Hut scikit-learn version.
- UMAP: McInnes, Healy & Melville, "UMAP: Uniform Manifold Approximation and Projection" (2018), umap-learn.
- kNN accuracy: the weighted k-NN protocol of Caron et al., "Emerging Properties in Self-Supervised Vision
  Transformers" (DINO, ICCV 2021), on a seeded, stratified 80/20 split (see `knn_accuracy`).
- Trustworthiness: Venna & Kaski (2001), via `sklearn.manifold.trustworthiness`.

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

import os
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vizcore.errors import InputError

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
TRUST_MAX_POINTS = 5_000      # trustworthiness is O(N²): larger sets are scored on a seeded subsample
DINO_TEMPERATURE = 0.07       # T in the DINO k-NN vote weights exp(sim / T)
TEST_FRACTION = 0.2           # held-out share of every class for knn_accuracy and linear_probe_accuracy

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


@dataclass(frozen=True)
class Score:
    """A quality score with what it was measured on.

    Attributes:
        value: the score (accuracy or trustworthiness, in [0, 1]).
        n_points: how many points were scored (held-out points for accuracies, sample size for trustworthiness).
        detail: one sentence saying exactly how it was measured.
        chance: accuracy of always predicting the most frequent training class (accuracies only, else None).
    """

    value: float
    n_points: int
    detail: str
    chance: float | None = None

    def __float__(self) -> float:
        return self.value


def _matrix(X, min_rows: int = 3) -> np.ndarray:
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


def _unit(A: np.ndarray) -> np.ndarray:
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


def use_numba_disk_cache() -> None:
    """Cache numba compilations on disk in a writable user directory, unless NUMBA_CACHE_DIR is already set.

    `~/.cache/vizcore/numba`, else a temp directory. Works before numba is imported (environment variable) and
    after (numba reads `numba.config.CACHE_DIR` when it first caches a function).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    for base in (Path.home() / ".cache" / "vizcore" / "numba", Path(tempfile.gettempdir()) / "vizcore-numba"):
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(base, os.W_OK):
            os.environ["NUMBA_CACHE_DIR"] = str(base)
            if "numba" in sys.modules:
                sys.modules["numba"].config.CACHE_DIR = str(base)
            return


def _exact_knn(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row, the row itself first: (N, D) -> indices, distances (N, k).

    Blocked float32 matrix products (N² D flops): used for UMAP up to `EXACT_KNN_MAX` points, where it is
    faster than NN-descent's per-process numba compilation and gives exact neighbours.
    """
    Xk = _unit(X) if metric == "cosine" else X
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
    X = _matrix(X)
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
        return 1.0 - _unit(q64) @ _unit(X64).T
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
    X = _matrix(X, min_rows=2)
    if not 0 <= index < X.shape[0]:
        raise InputError(f"Point index {index} is outside 0..{X.shape[0] - 1}.")
    if k < 1:
        raise InputError(f"k must be at least 1; got {k}.")
    d = _distances(X, X[index : index + 1], metric)[0]  # (N,)
    d[index] = np.inf
    order = np.lexsort((np.arange(len(d)), d))[: min(k, X.shape[0] - 1)]  # by distance, then index
    return order.astype(np.int64), d[order]


def trustworthiness(X, Y, k: int = 10, *, max_points: int = TRUST_MAX_POINTS, seed: int = 0) -> Score:
    """How well a map Y keeps the k-neighbourhoods of X (1.0 = no intruders), Venna & Kaski (2001).

    Above `max_points` points both X and Y are scored on the same seeded random subsample of `max_points`
    rows (the score is O(N²)); `Score.n_points` and `Score.detail` say so.

    Args:
        X: (N, D) original embeddings. Y: (N, d) their map.
        k: neighbourhood size, must be < n/2 for the n points scored.
    """
    X, Y = _matrix(X), _matrix(Y)
    if X.shape[0] != Y.shape[0]:
        raise InputError(f"X and Y must hold the same points; got {X.shape[0]} and {Y.shape[0]} rows.")
    n = X.shape[0]
    rows = np.arange(n)
    if n > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    if not 1 <= k < len(rows) / 2:
        raise InputError(f"k must be between 1 and n/2 = {len(rows) / 2:g}; got {k}.")
    from sklearn.manifold import trustworthiness as sk_trust

    value = float(sk_trust(X[rows], Y[rows], n_neighbors=k))
    sample = f"a seeded random subsample of {len(rows):,} of {n:,} points" if len(rows) < n else f"all {n:,} points"
    return Score(value, len(rows), f"Trustworthiness with k={k} on {sample}.")


def _split(labels, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded stratified split: round(TEST_FRACTION x class size) of every class held out (none of 1-2 points).

    Returns:
        y (N,) int class ids, train (n_train,) and test (n_test,) sorted row indices.
    """
    _, y = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    rng = np.random.default_rng(seed)
    test = [rng.permutation(np.flatnonzero(y == c))[: int(round(TEST_FRACTION * (y == c).sum()))]
            for c in range(y.max() + 1)]
    is_test = np.zeros(len(y), bool)
    is_test[np.concatenate(test)] = True
    if is_test.sum() == 0 or (~is_test).sum() == 0:
        raise InputError("Too few labelled points for a held-out split; label at least 5 points.")
    return y, np.flatnonzero(~is_test), np.flatnonzero(is_test)


def _labelled(X, labels: Sequence, seed: int):
    X = _matrix(X, min_rows=5)
    if len(labels) != X.shape[0]:
        raise InputError(f"Got {len(labels)} labels for {X.shape[0]} points; give one label per point.")
    y, train, test = _split(labels, seed)
    chance = float((y[test] == np.bincount(y[train]).argmax()).mean())
    return X, y, train, test, chance


def _knn_vote(train: np.ndarray, y_train: np.ndarray, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Predicted class per query from its k nearest training points: (n_train, D), (M, D) -> (M,) int.

    cosine: each neighbour votes with weight exp(cos_sim / T), T = 0.07 (DINO); euclidean: equal weights.
    The largest vote wins; ties go to the lowest class id. float32 products, in blocks of 1024 queries.
    """
    n_class = int(y_train.max()) + 1
    cosine = metric == "cosine"
    train = _unit(train) if cosine else train
    sq = (train.astype(np.float64) ** 2).sum(1)  # (n_train,)
    preds = np.empty(len(queries), np.int64)
    for start in range(0, len(queries), 1024):  # (B, n_train) similarity blocks bound the memory
        q = queries[start : start + 1024]
        q = _unit(q) if cosine else q
        dot = q @ train.T  # (B, n_train)
        d = -dot if cosine else (q.astype(np.float64) ** 2).sum(1)[:, None] + sq[None, :] - 2.0 * dot
        nn = np.argpartition(d, k - 1, axis=1)[:, :k]  # (B, k) unordered k nearest
        w = np.exp(np.take_along_axis(dot, nn, 1) / DINO_TEMPERATURE) if cosine else np.ones(nn.shape)
        votes = np.zeros((len(q), n_class))
        np.add.at(votes, (np.arange(len(q))[:, None], y_train[nn]), w)
        preds[start : start + len(q)] = votes.argmax(1)
    return preds


def knn_accuracy(X, labels: Sequence, k: int = 20, metric: str = "cosine", *, seed: int = 0) -> Score:
    """Held-out accuracy of a weighted k-NN vote, the DINO evaluation protocol (Caron et al. 2021).

    Exactly: a seeded, stratified split holds out 20% of every class (`_split`). Each held-out point takes its
    k nearest training points; with metric "cosine" (DINO) each neighbour votes for its class with weight
    exp(cos_sim / 0.07); with "euclidean" the k neighbours vote with equal weight. The class with the largest
    vote wins (ties: lowest class id). Features are used as given (cosine L2-normalises implicitly).
    """
    if metric not in METRICS or k < 1:
        raise InputError(f"metric must be one of {', '.join(METRICS)} and k at least 1; got {metric!r}, k={k}.")
    X, y, train, test, chance = _labelled(X, labels, seed)
    k = int(min(k, len(train)))
    preds = _knn_vote(X[train], y[train], X[test], k, metric)
    detail = (f"{'Weighted (exp(cos/0.07))' if metric == 'cosine' else 'Uniform'} {k}-NN vote, {metric} distance, "
              f"on a seeded stratified 80/20 split: {len(train):,} train, {len(test):,} held-out points.")
    return Score(float((preds == y[test]).mean()), len(test), detail, chance)


def linear_probe_accuracy(X, labels: Sequence, seed: int = 0, *, max_iter: int = 300) -> Score:
    """Held-out accuracy of a logistic-regression probe on standardised features.

    Same seeded stratified 80/20 split as `knn_accuracy`; the standardisation (zero mean, unit variance per
    feature) is fitted on the training part only; L2-regularised multinomial logistic regression (C=1, lbfgs).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y, train, test, chance = _labelled(X, labels, seed)
    if len(np.unique(y[train])) < 2:
        return Score(1.0, len(test), "Only one class in the training split: the probe is trivially right.", chance)
    scaler = StandardScaler().fit(X[train])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        probe = LogisticRegression(max_iter=max_iter, random_state=seed).fit(scaler.transform(X[train]), y[train])
    value = float((probe.predict(scaler.transform(X[test])) == y[test]).mean())
    converged = "" if not any(issubclass(w.category, ConvergenceWarning) for w in caught) else " (not fully converged)"
    detail = (f"Logistic regression{converged} on standardised features, seeded stratified 80/20 split: "
              f"{len(train):,} train, {len(test):,} held-out points.")
    return Score(value, len(test), detail, chance)
