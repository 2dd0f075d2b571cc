"""AppTests of the projector's transfer-learning baseline: an honest message without weights, the four rows with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import vizcore as vc
from vizcore.analysis import scores
from vizcore.ui import baseline_views

pytestmark = pytest.mark.apptest
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/projector.py")
    return at.run()


def test_without_pretrained_weights_the_section_says_how_to_get_them(monkeypatch):
    monkeypatch.setattr(baseline_views, "available_backbones", lambda: [])
    at = _page()
    assert not at.exception
    assert any("No pretrained backbone" in i.value and "Download" in i.value for i in at.info)


def test_with_a_backbone_the_four_sources_are_scored_side_by_side(monkeypatch):
    tiny = vc.models.ModelInfo("bundled:tiny_vit", "Tiny ViT (shapes in clutter)", "vit")
    monkeypatch.setattr(baseline_views, "available_backbones", lambda: [tiny])
    monkeypatch.setattr(baseline_views, "MAX_IMAGES", 300)
    at = _page()
    at.toggle(key="pj_base_run").set_value(True).run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    assert list(table["features"]) == ["Tiny ViT (shapes in clutter) (pretrained)",
                                       "Tiny ViT (shapes in clutter) (random weights)", "raw pixels",
                                       "PCA of the pixels (50 components)"]
    digits = vc.data.load_dataset("digits")
    idx = np.linspace(0, len(digits) - 1, 300).round().astype(int)
    pixels = scores.knn_accuracy(vc.embeddings.compute("pixels", digits.images[idx]), digits.labels[idx])
    assert table["kNN accuracy"][2] == f"{pixels.value:.1%}"  # the screen shows the measured score
    assert any("chance" in c.value for c in at.caption)
