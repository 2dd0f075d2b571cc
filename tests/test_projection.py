"""vizcore.projection: shapes, determinism, input errors, neighbours vs brute force, scores with known answers.

UMAP tests are marked slow: the first UMAP fit in a process spends 10-40 s in numba compilation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from vizcore.analysis import projection as P
from vizcore.analysis import scores as S
from vizcore.errors import InputError, VizcoreError


def blobs(n: int = 120, d: int = 16, k: int = 2, sep: float = 20.0, seed: int = 0):
    """k well-separated Gaussian clusters: X (n, d) float32, labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    centres = rng.standard_normal((k, d)) * sep
    return (centres[labels] + rng.standard_normal((n, d))).astype(np.float32), labels


X, LABELS = blobs()
XT = X[:60]  # t-SNE tests: small N keeps them fast
FAST_TSNE = {"max_iter": 250}


def brute_neighbours(X, i, metric):
    X = X.astype(np.float64)
    if metric == "cosine":
        U = X / np.linalg.norm(X, axis=1, keepdims=True)
        d = 1.0 - U @ U[i]
    else:
        d = np.linalg.norm(X - X[i], axis=1)
    d[i] = np.inf
    return np.argsort(d, kind="stable"), d


# ---- PCA and t-SNE ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dims", [2, 3])
def test_pca_shape_variance_and_parity_with_numpy(dims):
    proj = P.run(X, method="pca", dims=dims)
    assert proj.coords.shape == (len(X), dims) and proj.coords.dtype == np.float32
    centred = X.astype(np.float64) - X.mean(0)
    s = np.linalg.svd(centred, compute_uv=False)
    ratio = s**2 / (s**2).sum()
    np.testing.assert_allclose(proj.explained_variance, ratio[:dims], rtol=1e-4)
    # the coordinates are the centred data on the principal axes: same variances as the singular values say
    np.testing.assert_allclose(proj.coords.var(0, ddof=1), s[:dims] ** 2 / (len(X) - 1), rtol=1e-3)


@pytest.mark.parametrize("dims", [2, 3])
def test_tsne_shape_and_determinism(dims):
    a = P.run(XT, method="tsne", dims=dims, seed=3, **FAST_TSNE)
    b = P.project(XT, method="tsne", dims=dims, seed=3, **FAST_TSNE)
    assert a.coords.shape == (len(XT), dims) and a.explained_variance is None
    np.testing.assert_array_equal(a.coords, b)


def test_tsne_perplexity_clipped_below_n():
    proj = P.run(X[:30], method="tsne", perplexity=50, **FAST_TSNE)
    assert proj.params["perplexity"] == pytest.approx(29 / 3)
    assert np.isfinite(proj.coords).all()


def test_tsne_keeps_separated_clusters_apart():
    coords = P.project(X, method="tsne", seed=0, **FAST_TSNE)
    assert S.knn_accuracy(coords, LABELS, k=5, metric="euclidean").value == 1.0
    assert S.knn_accuracy(P.project(X, method="pca"), LABELS, k=5, metric="euclidean").value == 1.0


def test_progress_called_at_start_and_end():
    calls = []
    P.run(X, method="pca", progress=lambda f, msg: calls.append((f, msg)))
    assert [f for f, _ in calls] == [0.0, 1.0]
    assert all(isinstance(msg, str) and msg for _, msg in calls)


@pytest.mark.parametrize("bad, match", [
    (dict(X=X[:2]), "at least 3"),
    (dict(X=np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X)), "NaN or infinite"),
    (dict(X=np.where(np.arange(X.size).reshape(X.shape) == 7, np.inf, X)), "NaN or infinite"),
    (dict(X=X[0]), "shaped"),
    (dict(dims=4), "dims must be 2 or 3"),
    (dict(dims=1), "dims must be 2 or 3"),
    (dict(method="lle"), "Unknown projection method"),
    (dict(method="pca", n_neighbors=5), "Unknown parameter"),
    (dict(method="umap", metric="manhattan"), "metric must be"),
    (dict(X=X[:, :2], method="pca", dims=3), "at least 3 features"),
])
def test_input_errors(bad, match):
    kwargs = {"X": X, "method": "pca", **bad}
    with pytest.raises(InputError, match=match):
        P.run(kwargs.pop("X"), **kwargs)
    assert issubclass(InputError, VizcoreError)


# ---- neighbours and scores ----------------------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_nearest_neighbors_match_brute_force(metric):
    rng = np.random.default_rng(1)
    Y = rng.standard_normal((200, 24)).astype(np.float32)
    for i in (0, 57, 199):
        idx, dist = P.nearest_neighbors(Y, i, k=10, metric=metric)
        order, d = brute_neighbours(Y, i, metric)
        np.testing.assert_array_equal(idx, order[:10])
        np.testing.assert_allclose(dist, d[order[:10]], rtol=1e-6, atol=1e-9)
        assert i not in idx and np.all(np.diff(dist) >= 0)


def test_nearest_neighbors_excludes_only_the_point_itself():
    Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)
    idx, dist = P.nearest_neighbors(Y, 0, k=10, metric="euclidean")
    assert list(idx) == [1, 2, 3]  # the duplicate comes first; k clipped to N - 1
    assert dist[0] == 0.0
    with pytest.raises(InputError):
        P.nearest_neighbors(Y, 4)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_exact_knn_matches_brute_force(metric):
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((1500, 12)).astype(np.float32)  # > 1024: crosses a block boundary
    idx, dist = P._exact_knn(Y, 8, metric)
    assert (idx[:, 0] == np.arange(len(Y))).all() and (dist[:, 0] < 1e-6).all()
    for i in (3, 1024, 1499):
        order, d = brute_neighbours(Y, i, metric)
        assert set(idx[i, 1:]) == set(order[:7])
        np.testing.assert_allclose(dist[i, 1:], d[order[:7]], rtol=1e-3, atol=1e-4)


def test_knn_accuracy_separated_blobs_is_perfect():
    Xb, yb = blobs(400, k=4)
    for metric in ("cosine", "euclidean"):
        score = S.knn_accuracy(Xb, yb, k=20, metric=metric)
        assert score.value == 1.0 and score.n_points == 80 and "80 held-out" in score.detail
        assert score.chance == pytest.approx(0.25)


def test_knn_accuracy_random_labels_is_near_chance():
    rng = np.random.default_rng(0)
    Xr = rng.standard_normal((2000, 16)).astype(np.float32)
    score = S.knn_accuracy(Xr, rng.integers(0, 2, 2000))
    assert abs(score.value - 0.5) < 0.08


def test_knn_vote_dino_weighting():
    """Query at 0 deg; one class-0 neighbour at 1 deg, two class-1 neighbours at +-40 deg (k = 3).

    Uniform votes pick class 1 (2 vs 1); DINO weights exp(cos/0.07) pick class 0: e^(0.9998/0.07) is ~14x
    2 e^(0.766/0.07).
    """
    ang = np.deg2rad([1.0, 40.0, -40.0, 120.0])
    train = np.c_[np.cos(ang), np.sin(ang)]
    y = np.array([0, 1, 1, 1])
    query = np.array([[1.0, 0.0]])
    assert S._knn_vote(train, y, query, 3, "cosine")[0] == 0
    assert S._knn_vote(train, y, query, 3, "euclidean")[0] == 1


def test_split_is_stratified_seeded_and_disjoint():
    labels = np.repeat(["a", "b", "c"], [50, 30, 5])
    y, train, test = S._split(labels, seed=4)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(labels)
    assert [int((labels[test] == c).sum()) for c in "abc"] == [10, 6, 1]
    _, _, test2 = S._split(labels, seed=4)
    _, _, test3 = S._split(labels, seed=5)
    np.testing.assert_array_equal(test, test2)
    assert not np.array_equal(test, test3)


def test_linear_probe_known_answers():
    Xb, yb = blobs(300, k=3)
    assert S.linear_probe_accuracy(Xb, yb).value == 1.0
    rng = np.random.default_rng(1)
    Xr = rng.standard_normal((1000, 8)).astype(np.float32)
    assert abs(S.linear_probe_accuracy(Xr, rng.integers(0, 2, 1000)).value - 0.5) < 0.1


def test_label_count_must_match():
    with pytest.raises(InputError, match="one label per point"):
        S.knn_accuracy(X, LABELS[:-1])


def test_trustworthiness_identity_random_and_subsample():
    assert S.trustworthiness(X, X, k=5).value == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((len(X), 2)).astype(np.float32)
    assert S.trustworthiness(X, noise, k=5).value < 0.7
    sub = S.trustworthiness(X, X, k=5, max_points=50)
    assert sub.n_points == 50 and "subsample of 50 of 120" in sub.detail and sub.value == pytest.approx(1.0)
    with pytest.raises(InputError, match="k must be"):
        S.trustworthiness(X, X, k=60)


def test_numba_disk_cache_dir(monkeypatch, tmp_path):
    import numba

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")  # restored after the test
    P.prepare_numba()
    expected = str(tmp_path / ".cache" / "vizcore" / "numba")
    assert os.environ["NUMBA_CACHE_DIR"] == numba.config.CACHE_DIR == expected
    assert (tmp_path / ".cache" / "vizcore" / "numba").is_dir()
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    P.prepare_numba()
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere/else"


def test_numba_error_messages_leave_sys_stdout_alone():
    """numba formatted its messages inside colorama's init()/deinit(), which reassign sys.stdout process-wide: from
    the UMAP warm-up's thread that sent another thread's prints to a stale stream (lost CLI output in the suite)."""
    code = """
import sys, types
from vizcore.numba_cache import prepare_numba
prepare_numba()
import numba.core.errors as errors
swaps = []
class Watch(types.ModuleType):
    def __setattr__(self, name, value):
        swaps.append(name)
        super().__setattr__(name, value)
sys.__class__ = Watch
errors.TypingError("Cannot mutate a literal list")
errors.NumbaWarning("a warning")
print(len(swaps))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")})
    assert out.stdout.strip() == "0", out.stdout


# ---- UMAP (slow: numba compilation on the first fit) --------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("dims", [2, 3])
def test_umap_shape_determinism_and_seed(dims):
    a = P.run(X, method="umap", dims=dims, seed=0)
    b = P.project(X, method="umap", dims=dims, seed=0)
    c = P.project(X, method="umap", dims=dims, seed=1)
    assert a.coords.shape == (len(X), dims) and a.coords.dtype == np.float32
    np.testing.assert_array_equal(a.coords, b)
    assert not np.array_equal(b, c)
    assert a.params["init"] == "spectral" and a.params["n_neighbors"] == 15


@pytest.mark.slow
def test_umap_separates_blobs_and_clips_neighbours():
    proj = P.run(X, method="umap", metric="cosine", n_neighbors=500, seed=0)
    assert proj.params["n_neighbors"] == len(X) - 1
    assert S.knn_accuracy(proj.coords, LABELS, k=5, metric="euclidean").value == 1.0
    assert P.run(X[:10], method="umap", n_neighbors=50).params["n_neighbors"] == 9


@pytest.mark.slow
def test_umap_tiny_input_and_concurrent_calls():
    assert P.project(X[:3], method="umap").shape == (3, 2)
    results, errors = {}, []

    def fit(seed):
        try:
            results[seed] = P.project(X, method="umap", seed=seed)
        except Exception as err:  # noqa: BLE001 - any failure in a thread must fail the test
            errors.append(err)

    threads = [threading.Thread(target=fit, args=(s,)) for s in (0, 0, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and set(results) == {0, 2}


@pytest.mark.slow
def test_umap_exact_neighbour_path_is_deterministic():
    Xb, yb = blobs(4200, d=8, k=3, sep=10.0)  # 4096 <= N <= EXACT_KNN_MAX: vizcore's exact neighbours
    a = P.project(Xb, method="umap", n_epochs=30, seed=0)
    b = P.project(Xb, method="umap", n_epochs=30, seed=0)
    np.testing.assert_array_equal(a, b)
    assert S.knn_accuracy(a, yb, k=5, metric="euclidean").value > 0.99
