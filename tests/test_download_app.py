"""The app's Download weights button and honest labels (issue 12), through AppTest against the loopback Hub: a picked
model without weights offers the download (nothing fetched before the click), the click fetches it with progress and
the page then draws the model; offline fails inline within 5 s; a narrow bundled model says when an image is outside
its domain, with one click to a real model."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

import vizcore as vc
from tests import mdtables
from tests.conftest import DINO_SPEC, served_state

pytestmark = pytest.mark.apptest
TIMEOUT = 180
APP = str(Path(__file__).resolve().parents[1] / "app.py")
MAE_SPEC = "hf:facebook/vit-mae-base"


def _page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(path)
    at.run()
    return at


def _texts(elements) -> str:
    return " ".join(e.value for e in elements)


def _photo_png() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buf, format="PNG")
    return buf.getvalue()


def test_home_lists_curated_models_with_purpose_size_licence_and_a_download(hub):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    curated = next(t for t in mdtables.tables([m.value for m in at.markdown]) if "licence" in t[0])
    row = next(r for r in curated if r["model"] == "DINO ViT-S/16 (self-supervised)")
    assert row["weights here"] == "no" and row["size"] == "≈87 MB" and row["licence"] == "apache-2.0"
    assert "attention" in row["good for"].lower() and "Pages: Attention" in row["good for"]
    specs = {line.split()[0] for line in at.code[0].value.splitlines()}  # the curated specs, for the CLI
    assert specs >= {DINO_SPEC, MAE_SPEC, "timm:vit_base_patch16_clip_224.openai"}
    assert "not meaningful" in _texts(at.warning)  # the bundled models' limits, on the first screen
    assert at.button(key="home_download").label == "Download weights (≈87 MB)"
    assert not hub.log  # drawing the page asked the Hub nothing


def test_attention_download_button_fetches_dino_and_the_page_draws_its_maps(hub, dino_files):
    at = _page("pages/attention.py")
    at.selectbox(key="model").set_value(DINO_SPEC).run()
    assert not at.exception, at.exception
    assert any("No pretrained weights" in e.value for e in at.error)  # the page says what is missing ...
    button = at.button(key="model_download")
    assert button.label == "Download weights (≈87 MB)"  # ... and offers it, with its size
    assert not hub.log  # nothing is fetched before the click

    t0 = time.monotonic()
    button.click().run()
    elapsed = time.monotonic() - t0
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert hub.requests("GET", "/cdn/")  # the weights came from the (stub) Hub
    assert len(at.get("plotly_chart")) >= 6 and "DINO ViT-S/16" in _texts(at.markdown)  # its maps
    assert vc.models.weights_present(DINO_SPEC)
    loaded = vc.load_model(DINO_SPEC)
    served = served_state(dino_files)
    assert all(torch.equal(v, served[k]) for k, v in loaded.module.state_dict().items())
    assert not any(getattr(b, "key", None) == "model_download" for b in at.button)  # the panel is gone
    print(f"download + first maps in the app: {elapsed:.1f} s")


def test_offline_the_button_fails_inline_within_5_seconds_and_the_page_keeps_working(hub, monkeypatch):
    from hubstub import closed_port, point_huggingface_hub_at

    at = _page("pages/attention.py")
    at.selectbox(key="model").set_value(DINO_SPEC).run()
    point_huggingface_hub_at(monkeypatch, f"http://127.0.0.1:{closed_port()}", Path(os.environ["HF_HOME"]))
    t0 = time.monotonic()
    at.button(key="model_download").click().run()
    assert time.monotonic() - t0 < 5.0 + 1.0  # the page's own work is a small part of this
    assert not at.exception, at.exception
    assert any("Could not reach" in e.value and "network connection" in e.value for e in at.error)
    assert at.button(key="model_download").label.startswith("Download weights")  # retry stays one click away
    at.selectbox(key="model").set_value("bundled:tiny_vit").run()
    assert not at.exception and not at.error


def test_a_narrow_model_says_an_upload_is_outside_its_domain_and_offers_a_real_model(hub, dino_files):
    at = _page("pages/attention.py")
    assert not any("not meaningful" in w.value for w in at.warning)  # a scene sample: its own domain
    at.radio(key="image_source").set_value("Upload").run()
    at.file_uploader(key="upload").set_value(("cat.png", _photo_png(), "image/png")).run()
    assert not at.exception, at.exception
    notice = next(w.value for w in at.warning if "not meaningful" in w.value)
    assert "Tiny ViT" in notice and "synthetic 64-px scenes" in notice and "your upload (cat.png)" in notice.lower()
    assert "one of its 8 classes" in notice and "DINO ViT-S/16" in notice
    use = at.button(key="model_use_real")
    assert use.label == "Use DINO ViT-S/16 (self-supervised) instead and download its weights (≈87 MB)"
    assert len(at.get("plotly_chart")) >= 6  # the notice sits beside the answer, it does not replace it

    at.radio(key="image_source").set_value("Sample").run()
    at.selectbox(key="sample").set_value("cat (scikit-image)").run()
    assert any("not meaningful" in w.value and "cat (scikit-image)" in w.value for w in at.warning)
    at.toggle(key="model_random").set_value(True).run()
    assert not any("not meaningful" in w.value for w in at.warning)  # random weights carry their own label
    at.toggle(key="model_random").set_value(False).run()

    at.button(key="model_use_real").click().run()  # one click: switch to DINO and fetch it
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="model").value == DINO_SPEC and vc.models.weights_present(DINO_SPEC)
    assert not any("not meaningful" in w.value for w in at.warning)  # a model trained on photos: no notice


def test_mae_page_downloads_the_full_mae_and_reconstructs(hub, tmp_path):
    T = pytest.importorskip("transformers")
    config = T.ViTMAEConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, decoder_hidden_size=16, decoder_num_hidden_layers=1,
                            decoder_num_attention_heads=2, decoder_intermediate_size=32, mask_ratio=0.75)
    torch.manual_seed(0)
    T.ViTMAEForPreTraining(config).save_pretrained(tmp_path / "mae")
    hub.add_repo("facebook/vit-mae-base", {p.name: p.read_bytes() for p in (tmp_path / "mae").iterdir()})

    at = _page("pages/mae.py")
    at.selectbox(key="model").set_value(MAE_SPEC).run()
    assert at.button(key="model_download").label == "Download weights (≈448 MB)"  # the real one's size
    at.button(key="model_download").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("image")) + len(at.get("plotly_chart")) + len(at.get("bidi_component")) >= 1  # flip-books
    assert "MAE ViT-B/16 with its decoder" in _texts(at.markdown) + _texts(at.caption)
