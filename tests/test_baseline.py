"""The transfer-learning baseline: four sources, the same two held-out scores, in a fixed order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vizcore as vc
from tests.conftest import tiny_handle
from vizcore.analysis import scores
from vizcore.analysis.baseline import transfer_baseline
from vizcore.errors import InputError
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT


@pytest.fixture(scope="module")
def digits():
    d = vc.data.load_dataset("digits")
    idx = np.arange(0, len(d), 4)  # 450 digits, every class
    return d.images[idx], d.labels[idx]


def test_four_rows_with_scores_that_match_the_scores_module(digits):
    images, labels = digits
    pre, twin = tiny_handle("cls"), tiny_handle("cls")
    with torch.no_grad():
        for p in twin.module.parameters():
            p.mul_(0.5)
    seen = []
    b = transfer_baseline(pre, twin, images, labels, pca_k=20, progress=lambda i, n, what: seen.append((i, n)))
    assert [r.spec for r in b.rows] == [pre.info.spec, twin.info.spec, "pixels", "pca:20"]
    assert [r.dims for r in b.rows] == [192, 192, 64, 20]
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    assert b.n == 450 and b.num_classes == 10 and b.pooling == "cls"
    pixels = b.rows[2]
    ref = scores.knn_accuracy(vc.embeddings.compute("pixels", images), labels)
    assert pixels.knn.value == pytest.approx(ref.value)
    assert pixels.knn.value > 0.9  # digits are easy for raw pixels (~0.97): the score is not a placeholder
    assert b.chance == pytest.approx(ref.chance) and 0.05 < b.chance < 0.2
    assert all(0.0 <= r.probe.value <= 1.0 for r in b.rows)


def test_models_without_cls_fall_back_to_mean_pooling(digits):
    images, labels = digits
    import timm

    module = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64, depth=2, class_token=False,
                               global_pool="avg", dynamic_img_size=True)  # no prefix token at all
    info = ModelInfo("timm:vit_tiny_patch16_224", "no-CLS ViT", "vit", pretrained=False)
    h = TimmViT(module, info, Preprocess(size=(64, 64), dynamic_size=True))
    b = transfer_baseline(h, h, images[:40], labels[:40], pca_k=5)
    assert b.pooling == "mean"


def test_bad_inputs_are_input_errors(digits):
    images, labels = digits
    vit = tiny_handle("cls")
    with pytest.raises(InputError, match="two classes"):
        transfer_baseline(vit, vit, images[:10], np.zeros(10, int))
    ae = vc.load_model("bundled:ae_8d")
    with pytest.raises(InputError, match="not a Vision Transformer"):
        transfer_baseline(ae, vit, images[:10], labels[:10])
    with pytest.raises(InputError, match="pooling"):
        transfer_baseline(vit, vit, images[:10], labels[:10], pooling="max")
