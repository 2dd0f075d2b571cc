"""Neighbours and parameters (issue 13 §8 kinds): every distance / neighbour path agrees with its metric's
definition at every size threshold, degenerate rows included; every user-settable parameter is range-checked."""

from __future__ import annotations

import numpy as np
import pytest

from vizcore.analysis import neighbors as NB
from vizcore.analysis import projection as P
from vizcore.analysis import scores as S
from vizcore.errors import InputError, VizcoreError


def definition(X: np.ndarray, i: int, metric: str) -> np.ndarray:
    """Distances from row i to every row, straight from the definition (float64, one pair at a time)."""
    X = X.astype(np.float64)
    out = np.empty(len(X))
    for j in range(len(X)):
        a, b = X[i], X[j]
        if metric == "euclidean":
            out[j] = np.sqrt(((a - b) ** 2).sum())
        else:
            na, nb = np.sqrt((a * a).sum()), np.sqrt((b * b).sum())
            # 1 - cos = |a/|a| - b/|b||² / 2 (no cancellation for nearly parallel vectors)
            out[j] = 0.0 if na == nb == 0 else 1.0 if na == 0 or nb == 0 else ((a / na - b / nb) ** 2).sum() / 2
    return out


def hostile(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    """Random rows plus all-zero rows, exact duplicates, large-norm near-duplicates and scaled copies."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    X[5] = X[9] = X[n - 1] = 0.0  # all-zero rows
    X[20] = X[21] = X[22]  # duplicates
    X[30] = 1e4 + rng.standard_normal(d).astype(np.float32)  # far from the origin: cancellation in |a|²+|b|²-2ab
    X[31] = X[30] + np.float32(0.5)
    X[32] = X[30] + np.float32(0.25)
    X[40] = 3.0 * X[41]  # cosine duplicate of row 41
    return X


def expected(X, i, k, metric):
    d = definition(X, i, metric)
    d[i] = np.inf
    order = np.lexsort((np.arange(len(d)), d))[:k]
    return order, d[order]


@pytest.mark.parametrize("metric", NB.METRICS)
@pytest.mark.parametrize("n", [50, NB.BLOCK + 7])  # one block and across a block boundary
def test_exact_knn_and_queries_follow_the_definition(metric, n):
    X = hostile(n)
    idx, dist = NB.exact_knn(X, 6, metric)
    index = NB.NeighborIndex(X, metric)
    for i in (0, 5, 9, 20, 30, 31, 40, n - 1):
        assert idx[i, 0] == i and dist[i, 0] == 0.0  # the row itself first
        order, d = expected(X, i, 5, metric)
        # ties (several rows at exactly the k-th distance) may be broken differently; distances must match
        np.testing.assert_allclose(dist[i, 1:], d, rtol=1e-6, atol=1e-6)
        got, gd = index.query(i, 5)
        np.testing.assert_array_equal(got, order)
        np.testing.assert_allclose(gd, d, rtol=1e-12, atol=1e-12)
    if metric == "cosine":  # zero rows: 0 from each other, 1 from everything else
        got, gd = index.query(5, 3)
        assert list(got[:2]) == [9, n - 1] and list(gd[:2]) == [0.0, 0.0] and gd[2] == pytest.approx(1.0)
        assert index.query(40, 1) == ([41], [pytest.approx(0.0, abs=1e-12)])
    else:
        got, gd = index.query(30, 2)
        assert list(got) == [32, 31] and gd == pytest.approx([0.25 * np.sqrt(8), 0.5 * np.sqrt(8)], rel=1e-6)
    got, gd = index.query(20, 2)
    assert list(got) == [21, 22] and list(gd) == [0.0, 0.0]  # duplicates at exactly 0, by index


@pytest.mark.slow
@pytest.mark.parametrize("metric", NB.METRICS)
def test_nn_descent_paths_use_the_same_definition(metric, monkeypatch):
    """Above EXACT_KNN_MAX, UMAP / t-SNE take pynndescent's graph and the app its index: same distances."""
    X = hostile(400)
    monkeypatch.setattr(P, "EXACT_KNN_MAX", 100)
    idx, dist = P._knn(X, 8, metric, seed=0)
    for i in (0, 5, 9, 20, 30, 40, 399):
        d = definition(X, i, metric)
        np.testing.assert_allclose(dist[i], d[idx[i]], rtol=1e-4, atol=1e-4)
    index = NB.NeighborIndex(X, metric, approximate=True)
    exact = NB.NeighborIndex(X, metric)
    for i in (0, 5, 20, 30, 40, 123):
        got, gd = index.query(i, 5)
        np.testing.assert_allclose(gd, definition(X, i, metric)[got], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gd, exact.query(i, 5)[1], rtol=1e-9, atol=1e-9)


def test_scores_knn_vote_uses_the_same_cosine_for_zero_rows():
    train = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    y = np.array([0, 1, 1])
    assert S._knn_vote(train, y, np.zeros((1, 2), np.float32), 1, "cosine")[0] == 0  # zero query: zero row at 0


# ---- parameters: every one range-checked with a VizcoreError naming the range -------------------------------

X = np.random.default_rng(0).standard_normal((40, 5)).astype(np.float32)


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="umap", n_neighbors=1), r"n_neighbors must be an integer from 2 to 1000; got 1"),
    (dict(method="umap", min_dist=2.0), r"min_dist must be a number from 0 to 1; got 2.0"),
    (dict(method="umap", min_dist=-0.5), r"min_dist must be a number from 0 to 1"),
    (dict(method="umap", n_neighbors=2.5), r"n_neighbors must be an integer"),
    (dict(method="umap", n_epochs=0), r"n_epochs must be an integer from 1 to 10000"),
    (dict(method="umap", mode="turbo"), r"mode must be one of seeded, fast"),
    (dict(method="umap", init="lle"), r"init must be one of"),
    (dict(method="tsne", max_iter=100), r"max_iter must be an integer from 250 to 10000; got 100"),
    (dict(method="tsne", perplexity=0.5), r"perplexity must be a number from 1 to 500"),
    (dict(method="tsne", perplexity=float("nan")), r"perplexity must be a number"),
    (dict(method="pca", seed=-1), r"seed must be an integer from 0 to"),
    (dict(method="pca", dims=True), r"dims must be 2 or 3"),
])
def test_projection_parameters_are_range_checked(kwargs, match):
    with pytest.raises(InputError, match=match):
        P.run(X, **kwargs)
    assert issubclass(InputError, VizcoreError)


@pytest.mark.parametrize("call, match", [
    (lambda: S.knn_accuracy(X, np.arange(40) % 2, k=0), "k must be"),
    (lambda: S.knn_accuracy(X, np.arange(40) % 2, metric="l1"), "metric must be"),
    (lambda: S.linear_probe_accuracy(X, np.arange(40) % 2, max_iter=0), "max_iter must be an integer from 1"),
    (lambda: S.trustworthiness(X, X[:, :2], k=0), "k must be"),
    (lambda: S.knn_accuracy(X, np.arange(40) % 2, max_points=1), "max_points must be an integer from 10"),
    (lambda: P.nearest_neighbors(X, 0, k=0), "k must be an integer of at least 1"),
    (lambda: P.nearest_neighbors(X, 40), "outside 0..39"),
    (lambda: P.nearest_neighbors(X, 0, metric="manhattan"), "metric must be one of"),
])
def test_score_and_neighbour_parameters_are_checked(call, match):
    with pytest.raises(InputError, match=match):
        call()


@pytest.mark.slow
def test_umap_fast_mode_is_labelled_not_reproducible():
    rng = np.random.default_rng(1)
    labels = np.arange(300) % 3
    Xb = (rng.standard_normal((3, 8)) * 10)[labels] + rng.standard_normal((300, 8))
    proj = P.run(Xb, method="umap", mode="fast", n_epochs=50)
    assert proj.reproducible is False and proj.params["mode"] == "fast"
    assert S.knn_accuracy(proj.coords, labels, k=5, metric="euclidean").value == 1.0
    assert P.run(Xb, method="umap", n_epochs=20).reproducible is True
