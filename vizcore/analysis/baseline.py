"""The transfer-learning baseline, measured: are a pretrained model's activations better embeddings?

On one labelled data set, the same two scores for four sources side by side: the pretrained backbone, the same
architecture with random weights (its "random twin"), the raw pixels, and their PCA. The scores are held-out
kNN accuracy (k = 20, cosine, DINO's weighted vote; Caron et al. 2021) and linear-probe accuracy (a logistic
regression on standardised features), each with the chance level of always guessing the commonest class.
A backbone that beats its own random twin shows what pre-training added beyond the architecture's inductive bias;
one that beats the pixels shows the features are worth having at all (Yosinski et al. 2014; Kornblith et al. 2019).

May import: `vizcore.analysis`, `vizcore.models`, `vizcore.errors`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vizcore.analysis import embeddings, scores
from vizcore.analysis.tokens import POOLINGS
from vizcore.errors import InputError
from vizcore.models.protocols import ViTHandle

Progress = Callable[[int, int, str], object]  # progress(step, steps, what) after each source


@dataclass(frozen=True)
class BaselineRow:
    """One embedding source and its two held-out scores."""

    source: str  # what the features are, e.g. "DINO ViT-S/16 (pretrained)"
    spec: str  # what `embeddings.compute` took
    dims: int
    knn: scores.Score
    probe: scores.Score


@dataclass(frozen=True)
class TransferBaseline:
    """The four rows (pretrained, random twin, pixels, PCA), in that order, on `n` labelled images."""

    rows: tuple[BaselineRow, ...]
    n: int
    num_classes: int
    pooling: str
    layer: int

    @property
    def chance(self) -> float:
        """Accuracy of always predicting the commonest training class (the same for every row)."""
        return float(self.rows[0].knn.chance or 0.0)


def transfer_baseline(backbone: ViTHandle, random_backbone: ViTHandle, images, labels, *, layer: int = -1,
                      pooling: str = "cls", pca_k: int = 50, seed: int = 0,
                      progress: Progress | None = None) -> TransferBaseline:
    """Score pretrained vs random-weight features of one architecture, vs pixels and PCA, on a labelled set.

    Args:
        backbone: the pretrained ViT handle; random_backbone: the same architecture with random weights
            (`vizcore.models.random_twin(backbone.info.spec)`).
        images: (N, C, H, W) in [0, 1] or PIL images; labels: (N,) class per image (at least 2 classes).
        layer, pooling: where the ViT features are read ("cls" falls back to "mean" for models without CLS).
        pca_k: PCA components of the pixels.

    Raises:
        InputError: fewer than two classes, a backbone that is not a ViT, or an unknown pooling.
    """
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise InputError("The baseline needs labelled images of at least two classes; pick a labelled data set.")
    for h in (backbone, random_backbone):
        if not isinstance(h, ViTHandle):
            raise InputError(f"{h.info.title} is not a Vision Transformer; the baseline compares ViT features.")
    if pooling not in POOLINGS:
        raise InputError(f"Unknown pooling '{pooling}'. Use one of {', '.join(POOLINGS)}.")
    size = tuple(backbone.preprocess.size)
    if pooling == "cls" and not backbone.layout(size).has_cls:
        pooling = "mean"
    sources = [(f"{backbone.info.title} (pretrained)", backbone),
               (f"{random_backbone.info.title.removesuffix(' (random weights)')} (random weights)", random_backbone),
               ("raw pixels", "pixels"), (f"PCA of the pixels ({pca_k} components)", f"pca:{pca_k}")]
    rows = []
    for i, (title, source) in enumerate(sources):
        if progress is not None:
            progress(i, len(sources), title)
        is_model = not isinstance(source, str)
        X = embeddings.compute(source, images, layer=layer if is_model else -1, pooling=pooling, seed=seed)
        spec = source.info.spec if is_model else source
        rows.append(BaselineRow(title, spec, int(X.shape[1]), scores.knn_accuracy(X, labels, seed=seed),
                                scores.linear_probe_accuracy(X, labels, seed=seed)))
    if progress is not None:
        progress(len(sources), len(sources), "done")
    return TransferBaseline(tuple(rows), len(labels), int(len(np.unique(labels))), pooling, layer)
