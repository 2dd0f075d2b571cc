"""Autoencoders for classification: a linear classifier on the bottleneck code vs raw pixels vs PCA.

The question (the seed's "autoencoder for classification"): does an unsupervised code keep what separates the
classes? The same classifier (standardised features, multinomial logistic regression) is fitted on the training
split and scored on the held-out split for three feature sets: the model's code (k dimensions), PCA with the same
k components (fitted on the training images) and the raw pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vizcore.errors import InputError


@dataclass(frozen=True)
class ProbeResult:
    """Held-out accuracy of one feature set: features ("code", "PCA", "pixels"), dims, accuracy in [0, 1]."""

    features: str
    dims: int
    accuracy: float
    train_accuracy: float


def probe_accuracy(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray) -> tuple[
        float, float]:
    """(held-out accuracy, training accuracy) of a standardised logistic regression on the given features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y_train)) < 2:
        raise InputError("The training split has fewer than two classes; a classifier needs at least two.")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, C=1.0))
    clf.fit(X_train, y_train)
    return float(clf.score(X_test, y_test)), float(clf.score(X_train, y_train))


def pca_features(train: np.ndarray, test: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Project flattened images (N, P) on the first k principal components of `train`."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=min(k, train.shape[1], len(train)), random_state=0).fit(train)
    return pca.transform(train), pca.transform(test)


def pca_reconstruction_mse(train: np.ndarray, test: np.ndarray, k: int) -> float:
    """Held-out mean squared error per pixel of PCA with k components fitted on `train` (N, P)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=min(k, train.shape[1], len(train)), random_state=0).fit(train)
    return float(np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2))


def compare_features(handle, train_images: torch.Tensor, y_train, test_images: torch.Tensor, y_test) -> list[
        ProbeResult]:
    """Code vs PCA (same k) vs raw pixels, each with the same classifier, scored on the held-out images."""
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    xtr = handle.prepare(train_images).flatten(1).numpy()  # (N, P) at the model's size
    xte = handle.prepare(test_images).flatten(1).numpy()
    ctr, cte = handle.encode(train_images).numpy(), handle.encode(test_images).numpy()  # (N, k)
    k = ctr.shape[1]
    rows = [("code", ctr, cte), ("PCA", *pca_features(xtr, xte, k)), ("pixels", xtr, xte)]
    out = []
    for name, a, b in rows:
        acc, train_acc = probe_accuracy(a, y_train, b, y_test)
        out.append(ProbeResult(name, int(a.shape[1]), acc, train_acc))
    return out
