"""Nearest neighbours that agree with their metric's definition on every path, at every size, for every row.

Definitions (the same for the exact paths here, for pynndescent's NN-descent used above `EXACT_KNN_MAX` by UMAP,
t-SNE and `NeighborIndex`, and for the scores):
- euclidean: sqrt(sum((a - b)²)).
- cosine: 1 - a·b / (|a| |b|), evaluated as |a/|a| - b/|b||² / 2 (the same number, without the cancellation
  that makes 1 - cos useless for nearly parallel vectors); two all-zero vectors are at distance 0 (identical), a
  zero vector and any other vector at distance 1 (pynndescent's and umap-learn's convention).

Speed without giving up exactness: candidates come from float32 matrix products; then the candidates' distances
are recomputed in float64 from the definition, sorted by (distance, index), and a rigorous float32 error bound
checks that no row outside the candidates could be closer than the k-th; rows that fail the check (near-ties
at the boundary) are redone fully in float64. Duplicates are at distance exactly 0; a point's own row sorts first.

`NeighborIndex` answers a click on a map of up to a million points: one query is an exact float32 scan (about
0.1 s at 1M x 128 here) + re-rank; `approximate=True` builds pynndescent's NN-descent index once (minutes at 1M)
and then answers a query in milliseconds, its candidates re-ranked exactly (benchmarks/bench_neighbors.py).
"""

from __future__ import annotations

import numpy as np

from vizcore.errors import InputError
from vizcore.numba_cache import prepare_numba

METRICS = ("euclidean", "cosine")
EXACT_KNN_MAX = 10_000  # all-points k-NN graphs: exact up to this many points, NN-descent above
BLOCK = 1024            # query rows per float32 product block
MARGIN = 16             # extra float32 candidates re-ranked in float64
_EPS32 = float(np.finfo(np.float32).eps)


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
    return metric


def unit_rows(A: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-30)


def row_norms(X: np.ndarray, block: int = 65_536) -> np.ndarray:
    """(N,) float64 row norms, accumulated in float64 block by block (no float32 underflow, bounded memory)."""
    out = np.empty(len(X))
    for s in range(0, len(X), block):
        out[s : s + block] = np.sqrt(np.einsum("ij,ij->i", X[s : s + block], X[s : s + block], dtype=np.float64))
    return out


def _unit32(X: np.ndarray, norms: np.ndarray, block: int = 65_536) -> np.ndarray:
    out = np.empty(X.shape, np.float32)
    for s in range(0, len(X), block):
        out[s : s + block] = X[s : s + block] / np.maximum(norms[s : s + block, None], 1e-300)
    return out


def distances(X: np.ndarray, rows: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Exact float64 distances from one query q (D,) to X[rows] (M,), straight from the definition."""
    A, b = X[rows].astype(np.float64), q.astype(np.float64)
    if metric == "euclidean":
        return np.sqrt(((A - b) ** 2).sum(1))
    na, nb = np.linalg.norm(A, axis=1), np.linalg.norm(b)
    if nb == 0.0:
        return np.where(na == 0.0, 0.0, 1.0)
    half_chord = 0.5 * ((A / np.maximum(na, 1e-300)[:, None] - b / nb) ** 2).sum(1)  # = 1 - cos
    return np.where(na == 0.0, 1.0, half_chord)


def _bound(D: int) -> float:
    """Relative error bound of a float32 dot product of length D (Higham's gamma_D, doubled for the norms)."""
    return 2.0 * (D + 4) * _EPS32


class _Scanner:
    """float32 scores s (lower = closer) of queries against all rows, with an absolute error bound per query."""

    def __init__(self, X: np.ndarray, metric: str) -> None:
        self.X, self.metric = X, metric
        self.norms = row_norms(X)  # (N,) float64
        self.zero = self.norms == 0.0
        self.base = _unit32(X, self.norms) if metric == "cosine" else np.ascontiguousarray(X, np.float32)
        self.sq = (self.norms**2).astype(np.float32)
        self.gamma = _bound(X.shape[1])

    def scores(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(B, N) float32 scores for X[rows] as queries, and (B,) error bounds (same units)."""
        q = self.base[rows]
        dot = q @ self.base.T  # (B, N)
        if self.metric == "cosine":  # score 1 - cos of unit rows; zero rows score 1 (fixed up by the re-rank)
            return 1.0 - dot, np.full(len(rows), 2.0 * self.gamma + 4 * _EPS32)
        s = self.sq[rows, None] + self.sq[None, :] - 2.0 * dot  # squared distances
        return s, self.gamma * 2.0 * (self.sq[rows] + self.sq.max()) + 4 * _EPS32

    def exact_key(self, d: np.ndarray) -> np.ndarray:
        """Exact distances -> the score scale (squared for euclidean)."""
        return d**2 if self.metric == "euclidean" else d


def _rank(X: np.ndarray, scan: _Scanner, i: int, cand: np.ndarray, k: int, self_first: bool):
    """Exact re-rank of candidate rows for query row i: (k,) indices and distances, ties by lower index."""
    d = distances(X, cand, X[i], scan.metric)
    if self_first:
        d = np.where(cand == i, -1.0, d)
    order = np.lexsort((cand, d))[:k]
    return cand[order], np.maximum(d[order], 0.0)


def _one(X, scan, i, s_row, bound, k, self_first):
    """k neighbours of row i from its float32 score row, verified against the error bound."""
    n = len(s_row)
    m = min(n, k + MARGIN)
    cand = np.argpartition(s_row, m - 1)[:m] if m < n else np.arange(n)
    if self_first and i not in cand:
        cand = np.append(cand, i)
    if scan.metric == "cosine" and scan.zero[i]:  # all-zero rows are at distance 0 from a zero query
        cand = np.union1d(cand, np.flatnonzero(scan.zero)[: k + 1])
    idx, d = _rank(X, scan, i, cand, k, self_first)
    if m < n and len(idx) == k:
        kth = scan.exact_key(d[-1])
        outside = np.ones(n, bool)
        outside[cand] = False
        if s_row[outside].min() - bound <= kth:  # a row outside might be as close: settle it exactly
            idx, d = _rank(X, scan, i, np.arange(n), k, self_first)
    return idx, d


def exact_knn(X: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of every row, the row itself first: (N, D) -> indices, distances (N, k)."""
    check_metric(metric)
    n = len(X)
    k = min(k, n)
    scan = _Scanner(X, metric)
    idx, dist = np.empty((n, k), np.int64), np.empty((n, k), np.float32)
    for s in range(0, n, BLOCK):
        rows = np.arange(s, min(n, s + BLOCK))
        S, bounds = scan.scores(rows)
        for j, i in enumerate(rows):
            idx[i], dist[i] = _one(X, scan, i, S[j], bounds[j], k, True)
    return idx, dist


class NeighborIndex:
    """Neighbours of single points of X (N, D) in the original space, exact by the definitions above.

    Args:
        X: (N, D) float32 (kept by reference).
        metric: "cosine" or "euclidean".
        approximate: build pynndescent's NN-descent index now; queries then re-rank its candidates exactly
            (fast per query after a build of minutes at 1M points). False: every query scans all rows exactly.
        seed: the index's random state.
    """

    def __init__(self, X: np.ndarray, metric: str = "cosine", *, approximate: bool = False, seed: int = 0) -> None:
        self.X, self.metric = X, check_metric(metric)
        self.scan = _Scanner(X, metric)
        self.index = None
        if approximate:
            prepare_numba()
            from pynndescent import NNDescent

            self.index = NNDescent(X, metric=metric, n_neighbors=30, random_state=seed, low_memory=True,
                                   n_jobs=-1, compressed=False)
            self.index.prepare()

    def query(self, i: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest neighbours of row i, itself excluded (duplicates included): indices (k,), distances (k,)."""
        n = len(self.X)
        if not 0 <= i < n:
            raise InputError(f"Point index {i} is outside 0..{n - 1}.")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be an integer of at least 1; got {k!r}.")
        k = int(min(k, n - 1))
        idx = np.empty(0, np.int64)
        if self.metric == "cosine" and self.scan.zero[i]:  # zero rows (distance 0), then the rest (1) by index
            cand = np.union1d(np.flatnonzero(self.scan.zero)[: k + 1], np.flatnonzero(~self.scan.zero)[: k + 1])
            idx, d = _rank(self.X, self.scan, i, cand, k + 1, True)
        elif self.index is not None:
            cand, _ = self.index.query(self.X[i : i + 1], k=min(n, k + MARGIN + 1), epsilon=0.2)
            cand = np.union1d(cand[0][cand[0] >= 0], [i])
            idx, d = _rank(self.X, self.scan, i, cand, k + 1, True)
        if len(idx) < k + 1:  # no index, or it found too few candidates: one exact scan
            S, bounds = self.scan.scores(np.array([i]))
            idx, d = _one(self.X, self.scan, i, S[0], bounds[0], k + 1, True)
        return idx[1:].astype(np.int64), d[1:].astype(np.float64)  # drop the point itself (sorted first)
