"""One capture serves the Attention page's views and the gradient rollout of the predicted class (issue 15).

`capture(target="predicted")` takes the gradients of each image's top class from the same forward pass; the page's
cached maps are captured that way, so the Gradient rollout tab, which opens on that class, runs no second capture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import vizcore as vc
from vizcore.analysis import attention
from vizcore.data.scenes import sample_scenes
from vizcore.errors import InputError

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def tiny():
    return vc.load_model("bundled:tiny_vit")


@pytest.fixture(scope="module")
def images():
    return [im for _, im in sample_scenes(n=2)]


def test_predicted_target_is_the_top_class_from_the_same_pass(tiny, images):
    plain = attention.capture(tiny, images)
    top = attention.capture(tiny, images, target=attention.PREDICTED)
    assert torch.equal(top.target, plain.logits.argmax(-1))
    assert torch.equal(top.attn, plain.attn) and torch.equal(top.logits, plain.logits)  # gradients change nothing
    explicit = attention.capture(tiny, images, target=top.target.tolist())
    assert torch.equal(top.grads, explicit.grads)
    assert torch.equal(attention.grad_rollout(top), attention.grad_rollout(explicit))


def test_an_unknown_target_name_is_an_input_error(tiny, images):
    with pytest.raises(InputError, match="predicted"):
        attention.capture(tiny, images[:1], target="top")


@pytest.mark.apptest
def test_attention_page_captures_once_for_every_view(monkeypatch):
    """A new image: one capture draws all seven views, the Gradient rollout of the predicted class included; picking
    another class to explain captures again, for that class."""
    from vizcore.ui import cache

    calls = []
    real = attention.capture
    monkeypatch.setattr(attention, "capture", lambda *a, **kw: calls.append(kw.get("target")) or real(*a, **kw))
    cache.attention_maps.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/attention.py")
    at.run()
    assert not at.exception, at.exception
    assert calls == [attention.PREDICTED]
    top = at.selectbox(key="gr_class").value
    at.selectbox(key="gr_class").select_index(1).run()
    assert not at.exception, at.exception
    second = at.selectbox(key="gr_class").value
    assert second != top and calls == [attention.PREDICTED, second]
