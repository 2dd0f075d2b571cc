"""Layer-to-layer similarity of representations with linear centred kernel alignment (CKA).

- Linear CKA: Kornblith, Norouzi, Lee & Hinton, "Similarity of Neural Network Representations Revisited"
  (ICML 2019): CKA(X, Y) = ||Yᵀ X||_F² / (||Xᵀ X||_F ||Yᵀ Y||_F) for column-centred X (n, d1), Y (n, d2).
  Invariant to orthogonal transforms and isotropic scaling, not to arbitrary invertible linear maps.
- Minibatch CKA: Nguyen, Raghu & Kornblith, "Do Wide and Deep Networks Learn the Same Things?" (ICLR 2021),
  used by Raghu et al., "Do Vision Transformers See Like Convolutional Neural Networks?" (NeurIPS 2021): the
  unbiased HSIC estimator of Song et al. (2012) averaged over minibatches, so large sets never need an n x n
  Gram matrix and the estimate does not depend on the batch size.

All arithmetic is float64: CKA of near-identical layers is a ratio of large, close numbers.
"""

from __future__ import annotations

import numpy as np
import torch

from vizcore.analysis.tokens import layer_tokens, pool_tokens
from vizcore.errors import InputError

POOLINGS = ("tokens", "cls", "mean")
_GRAM_BYTES = 512 * 2**20  # above this, the full-batch path works in feature space instead of n x n Grams


def _matrix(x) -> np.ndarray:
    arr = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or 0 in arr.shape:
        raise InputError(f"Expected features shaped (n examples, d features); got {tuple(arr.shape)}.")
    return arr


def linear_cka(X, Y) -> float:
    """Linear CKA of two representations of the same n examples: X (n, d1), Y (n, d2) -> value in [0, 1].

    Returns NaN when either representation is constant over the examples (CKA is undefined there).
    """
    X, Y = _matrix(X), _matrix(Y)
    if X.shape[0] != Y.shape[0]:
        raise InputError(f"Both representations must cover the same examples; got {X.shape[0]} and {Y.shape[0]} rows.")
    X = X - X.mean(axis=0)  # centre each feature over the examples
    Y = Y - Y.mean(axis=0)
    cross = np.linalg.norm(Y.T @ X) ** 2  # ||Yᵀ X||_F²
    norm = np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)
    return float(cross / norm) if norm > 0 else float("nan")


def _unbiased_hsic_terms(grams: np.ndarray) -> np.ndarray:
    """Unbiased HSIC (Song et al. 2012) of every pair of (m, m) linear Grams: (L, m, m) -> (L, L).

    HSIC_1(K, K') = [tr(K~ K'~) + 1ᵀK~1 · 1ᵀK'~1 / ((m-1)(m-2)) - 2/(m-2) · 1ᵀ K~ K'~ 1] / (m(m-3)),
    with K~ the Gram with its diagonal set to zero.
    """
    L, m, _ = grams.shape
    k = grams.copy()
    k[:, np.arange(m), np.arange(m)] = 0.0  # K~
    flat = k.reshape(L, m * m)
    trace = flat @ flat.T  # tr(K~_i K~_j) = <K~_i, K~_j> (symmetric Grams)   (L, L)
    rows = k.sum(axis=2)  # K~ 1   (L, m)
    total = rows.sum(axis=1)  # 1ᵀ K~ 1   (L,)
    return (trace + np.outer(total, total) / ((m - 1) * (m - 2)) - 2.0 / (m - 2) * rows @ rows.T) / (m * (m - 3))


def _to_cka(hsic: np.ndarray) -> np.ndarray:
    diag = np.sqrt(np.clip(np.diag(hsic), 0.0, None))
    denom = np.outer(diag, diag)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, hsic / denom, np.nan)


def _full_batch(feats: list[np.ndarray]) -> np.ndarray:
    """Biased linear CKA of every pair, in Gram (n x n) or feature (d x d) space, whichever is cheaper."""
    n = feats[0].shape[0]
    centred = [f - f.mean(axis=0) for f in feats]
    L = len(centred)
    if n <= max(f.shape[1] for f in feats) and L * n * n * 8 <= _GRAM_BYTES:
        flat = np.stack([(f @ f.T).ravel() for f in centred])  # (L, n²)
        hsic = flat @ flat.T  # <K_i, K_j> = ||Y_jᵀ X_i||_F²
    else:
        hsic = np.empty((L, L))
        for i in range(L):
            for j in range(i, L):
                hsic[i, j] = hsic[j, i] = np.linalg.norm(centred[j].T @ centred[i]) ** 2
    return _to_cka(hsic)


def cka_matrix(features: list, *, minibatch: int | None = None) -> np.ndarray:
    """Linear CKA between every pair of layers.

    Args:
        features: L representations of the same n examples, each (n, d_l), e.g. from `layer_features`.
        minibatch: None for full-batch (biased) linear CKA; else the minibatch size m >= 4 of the unbiased
            estimator: examples are split in order into n // m batches, HSIC terms are summed over batches,
            then normalised (Nguyen et al. 2021). Shuffle the examples first if their order is not random.

    Returns:
        (L, L) float64, symmetric, ones on the diagonal (NaN for a constant layer).
    """
    feats = [_matrix(f) for f in features]
    if not feats:
        raise InputError("No layers were given; pass at least one (n, d) feature matrix.")
    n = feats[0].shape[0]
    if any(f.shape[0] != n for f in feats):
        raise InputError("Every layer must cover the same examples; got row counts "
                         f"{sorted({f.shape[0] for f in feats})}.")
    if minibatch is None:
        return _full_batch(feats)
    if minibatch < 4 or n < minibatch:
        raise InputError(f"The unbiased estimator needs minibatches of at least 4 examples and n >= minibatch; "
                         f"got minibatch {minibatch} with n = {n}.")
    hsic = np.zeros((len(feats), len(feats)))
    for idx in np.array_split(np.arange(n), n // minibatch):
        hsic += _unbiased_hsic_terms(np.stack([f[idx] @ f[idx].T for f in feats]))  # grams (L, m, m)
    return _to_cka(hsic)


def layer_features(handle, images, pooling: str = "tokens", *, fit: str = "resize") -> list[np.ndarray]:
    """The representation after every encoder block, one row per example, for `cka_matrix`.

    Args:
        pooling: "tokens" (every token of every image is an example: (B*N, D)), "cls" (the CLS token: (B, D))
            or "mean" (mean over patch tokens: (B, D)).

    Returns:
        L arrays (n, D) float64, block 0 first.
    """
    if pooling not in POOLINGS:
        raise InputError(f"Unknown pooling '{pooling}'. Use one of {', '.join(POOLINGS)}.")
    x = handle.prepare(images, fit=fit)  # (B, C, H, W)
    layout = handle.layout(tuple(x.shape[-2:]))
    if pooling == "cls" and not layout.has_cls:
        raise InputError("This model has no CLS token; use pooling 'mean' or 'tokens'.")
    outs = layer_tokens(handle, x, range(handle.num_layers))  # L x (B, N, D)
    if pooling == "tokens":
        return [t.double().reshape(-1, t.shape[-1]).numpy() for t in outs]  # L x (B*N, D)
    return [pool_tokens(t.double(), layout, pooling).numpy() for t in outs]  # L x (B, D)
