"""How much structure an embedding (or its map) keeps: kNN accuracy, linear-probe accuracy, trustworthiness.

- kNN accuracy: the weighted k-NN protocol of Caron et al., "Emerging Properties in Self-Supervised Vision
  Transformers" (DINO, ICCV 2021), on a seeded, stratified 80/20 split (see `knn_accuracy`).
- Linear probe: a logistic regression on standardised features, the same split.
- Trustworthiness: Venna & Kaski (2001), via `sklearn.manifold.trustworthiness`.

Above `SCORE_MAX_POINTS` points (kNN, probe) or `TRUST_MAX_POINTS` (trustworthiness) a score is measured on a
seeded random subsample, and `Score.detail` says so: a 1M-point set is scored in seconds, not hours. Cosine
distances follow `vizcore.analysis.neighbors` (two all-zero vectors are identical). Every parameter is
range-checked with an `InputError` naming the range.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vizcore.analysis.neighbors import METRICS, row_norms, unit_rows
from vizcore.analysis.projection import as_matrix, check_range
from vizcore.errors import InputError

TRUST_MAX_POINTS = 5_000      # trustworthiness is O(N²): larger sets are scored on a seeded subsample
DINO_TEMPERATURE = 0.07       # T in the DINO k-NN vote weights exp(sim / T)
TEST_FRACTION = 0.2           # held-out share of every class for knn_accuracy and linear_probe_accuracy
SCORE_MAX_POINTS = 50_000     # kNN and probe accuracies above this many points: a seeded, stratified subsample


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


def trustworthiness(X, Y, k: int = 10, *, max_points: int = TRUST_MAX_POINTS, seed: int = 0) -> Score:
    """How well a map Y keeps the k-neighbourhoods of X (1.0 = no intruders), Venna & Kaski (2001).

    Above `max_points` points both X and Y are scored on the same seeded random subsample of `max_points`
    rows (the score is O(N²)); `Score.n_points` and `Score.detail` say so.

    Args:
        X: (N, D) original embeddings. Y: (N, d) their map.
        k: neighbourhood size, must be < n/2 for the n points scored.
    """
    X, Y = as_matrix(X), as_matrix(Y)
    max_points = check_range("max_points", max_points, 10, 10**7, int)
    k = check_range("k", k, 1, 10**6, int)
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


def _labelled(X, labels: Sequence, seed: int, max_points: int):
    X = as_matrix(X, min_rows=5)
    if len(labels) != X.shape[0]:
        raise InputError(f"Got {len(labels)} labels for {X.shape[0]} points; give one label per point.")
    max_points = check_range("max_points", max_points, 10, 10**7, int)
    labels = np.asarray(labels)
    if len(X) > max_points:  # a seeded subsample keeps the scores fast at a million points
        rows = np.sort(np.random.default_rng(seed).choice(len(X), max_points, replace=False))
        X, labels = X[rows], labels[rows]
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
    zero_train = row_norms(train) == 0.0 if cosine else None
    train = unit_rows(train) if cosine else train
    sq = (train.astype(np.float64) ** 2).sum(1)  # (n_train,)
    preds = np.empty(len(queries), np.int64)
    for start in range(0, len(queries), 1024):  # (B, n_train) similarity blocks bound the memory
        q = queries[start : start + 1024]
        zero_q = row_norms(q) == 0.0 if cosine else None
        q = unit_rows(q) if cosine else q
        dot = q @ train.T  # (B, n_train)
        if cosine:  # two all-zero vectors are identical (similarity 1), as everywhere in vizcore
            dot[np.ix_(zero_q, zero_train)] = 1.0
        d = -dot if cosine else (q.astype(np.float64) ** 2).sum(1)[:, None] + sq[None, :] - 2.0 * dot
        nn = np.argpartition(d, k - 1, axis=1)[:, :k]  # (B, k) unordered k nearest
        w = np.exp(np.take_along_axis(dot, nn, 1) / DINO_TEMPERATURE) if cosine else np.ones(nn.shape)
        votes = np.zeros((len(q), n_class))
        np.add.at(votes, (np.arange(len(q))[:, None], y_train[nn]), w)
        preds[start : start + len(q)] = votes.argmax(1)
    return preds


def knn_accuracy(X, labels: Sequence, k: int = 20, metric: str = "cosine", *, seed: int = 0,
                 max_points: int = SCORE_MAX_POINTS) -> Score:
    """Held-out accuracy of a weighted k-NN vote, the DINO evaluation protocol (Caron et al. 2021).

    Exactly: a seeded, stratified split holds out 20% of every class (`_split`). Each held-out point takes its
    k nearest training points; with metric "cosine" (DINO) each neighbour votes for its class with weight
    exp(cos_sim / 0.07); with "euclidean" the k neighbours vote with equal weight. The class with the largest
    vote wins (ties: lowest class id). Features are used as given (cosine L2-normalises implicitly).
    """
    if metric not in METRICS:
        raise InputError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}.")
    k = check_range("k", k, 1, 10_000, int)
    n_all = len(labels)
    X, y, train, test, chance = _labelled(X, labels, seed, max_points)
    k = int(min(k, len(train)))
    preds = _knn_vote(X[train], y[train], X[test], k, metric)
    detail = (f"{'Weighted (exp(cos/0.07))' if metric == 'cosine' else 'Uniform'} {k}-NN vote, {metric} distance, "
              f"on a seeded stratified 80/20 split: {len(train):,} train, {len(test):,} held-out points"
              f"{_sampled(len(train) + len(test), n_all)}.")
    return Score(float((preds == y[test]).mean()), len(test), detail, chance)


def _sampled(used: int, n: int) -> str:
    return f" (a seeded random subsample of {used:,} of {n:,} points)" if used < n else ""


def linear_probe_accuracy(X, labels: Sequence, seed: int = 0, *, max_iter: int = 300,
                          max_points: int = SCORE_MAX_POINTS) -> Score:
    """Held-out accuracy of a logistic-regression probe on standardised features.

    Same seeded stratified 80/20 split as `knn_accuracy`; the standardisation (zero mean, unit variance per
    feature) is fitted on the training part only; L2-regularised multinomial logistic regression (C=1, lbfgs).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    max_iter = check_range("max_iter", max_iter, 1, 100_000, int)
    n_all = len(labels)
    X, y, train, test, chance = _labelled(X, labels, seed, max_points)
    if len(np.unique(y[train])) < 2:
        return Score(1.0, len(test), "Only one class in the training split: the probe is trivially right.", chance)
    scaler = StandardScaler().fit(X[train])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        probe = LogisticRegression(max_iter=max_iter, random_state=seed).fit(scaler.transform(X[train]), y[train])
    value = float((probe.predict(scaler.transform(X[test])) == y[test]).mean())
    converged = "" if not any(issubclass(w.category, ConvergenceWarning) for w in caught) else " (not fully converged)"
    detail = (f"Logistic regression{converged} on standardised features, seeded stratified 80/20 split: "
              f"{len(train):,} train, {len(test):,} held-out points{_sampled(len(train) + len(test), n_all)}.")
    return Score(value, len(test), detail, chance)
