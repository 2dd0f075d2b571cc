"""One AppTest per page: the pages run headless on the bundled defaults, and bad input gets an inline message."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import mdtables

pytestmark = pytest.mark.apptest
TIMEOUT = 120
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _page(path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(path)
    at.run()
    return at


def _flipbook(at: AppTest, key: str) -> dict:
    """The data a flip-book (`vizcore.ui.flipbook`) with widget key `key` sent to the browser."""
    import json

    found = [e.proto for e in at.get("bidi_component") if e.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, [e.proto.id for e in at.get("bidi_component")]
    return json.loads(found[0].json)


def _book(at: AppTest, key: str) -> list[dict]:
    return _flipbook(at, key)["frames"]


def _open(at: AppTest, key: str, tab: str) -> AppTest:
    """Open tab `tab` of the lazy tabs `key` (only the open tab is computed and drawn) and run."""
    at.session_state[key] = tab
    return at.run()


def test_home_lists_pages_and_offline_models():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "vizcore" in at.title[0].value
    text = " ".join(m.value for m in at.markdown)
    assert "Attention" in text
    bundled = next(t for t in mdtables.tables([m.value for m in at.markdown]) if "spec" in t[0])
    assert "bundled:tiny_vit" in {row["spec"] for row in bundled}


def test_home_without_bundled_models_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_ASSETS", str(tmp_path))  # an assets folder with no models in it
    monkeypatch.setenv("VIZCORE_WARMUP", "0")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    assert any("No bundled models were found" in i.value for i in at.info)


@pytest.mark.parametrize("text", ["a|b", "file:/tmp/a\\|b.pt", "2*3*4 and __dunder__", ":red[alert] :smile:",
                                  "`tick` <b>x</b> $1$ ~~s~~ # h", "two\nlines", "back\\slash"])
def test_home_tables_show_a_model_cards_text_as_written(text):
    """A title or "trained on" from a model card is text, not Markdown: it survives the table whole."""
    from vizcore.ui import tables

    (rows,) = mdtables.tables([tables.markdown([{"model": text, "kind": "vit"}, {"model": "x", "kind": text}])])
    flat = text.replace("\n", " ")
    assert rows == [{"model": flat, "kind": "vit"}, {"model": "x", "kind": flat}]


def test_attention_page_draws_every_view_with_bundled_defaults():
    at = _page("pages/attention.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Attention"
    assert len(at.tabs) == 7
    charts = at.get("plotly_chart")
    assert len(charts) >= 7  # predictions + one figure per view


def test_attention_page_controls_rerun_without_errors():
    at = _page("pages/attention.py")
    at.slider(key="ro_discard").set_value(0.5).run()
    at.selectbox(key="ro_fusion").set_value("max").run()
    at.slider(key="q_row").set_value(0).run()
    at.slider(key="m_mass").set_value(0.9).run()
    at.radio(key="fit").set_value("keep_aspect").run()
    at.selectbox(key="sample").set_value(at.selectbox(key="sample").options[-1]).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_unknown_timm_model_is_an_inline_message_and_the_page_recovers():
    at = _page("pages/attention.py")
    at.selectbox(key="model").set_value("other-timm").run()
    at.text_input(key="model_timm").input("vit_definitely_not_a_model").run()
    assert not at.exception
    assert any("timm has no model" in e.value for e in at.error)
    at.selectbox(key="model").set_value("bundled:tiny_vit").run()
    assert not at.exception and not at.error


def test_missing_timm_weights_offer_random_weights():
    at = _page("pages/attention.py")
    at.selectbox(key="model").set_value("other-timm").run()
    at.text_input(key="model_timm").input("vit_tiny_patch16_224").run()
    assert any("random weights" in e.value for e in at.error)
    at.toggle(key="model_random").set_value(True).run()
    assert not at.exception and not at.error
    assert any("Random weights" in w.value for w in at.warning)


def test_position_embeddings_page_draws_every_section():
    at = _page("pages/posembed.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Position embeddings"
    assert len(at.get("plotly_chart")) >= 6  # native, native+resampled, sin-cos, offsets, components
    at.number_input(key="pe_w").set_value(at.number_input(key="pe_w").value + 8).run()
    assert not at.exception and not at.error


def test_position_embeddings_page_explains_models_without_an_absolute_table():
    at = _page("pages/posembed.py")
    at.selectbox(key="model").set_value("other-timm").run()
    at.text_input(key="model_timm").input("beit_base_patch16_224").run()
    at.toggle(key="model_random").set_value(True).run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("relative position bias" in i.value for i in at.info)


def test_anatomy_page_draws_every_section():
    at = _page("pages/anatomy.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "ViT anatomy"
    assert len(at.get("plotly_chart")) >= 6
    assert len(at.dataframe) >= 3  # parameters, reconciliation, shapes
    at.slider(key="an_block").set_value(1).run()
    assert not at.exception and not at.error


def _no_errors(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_vae_page_draws_every_tab_and_its_sliders_move():
    at = _page("pages/vae.py")
    _no_errors(at)
    assert at.title[0].value == "VAE latent space"
    assert len(at.tabs) == 5
    assert len(at.get("plotly_chart")) >= 10  # norms, strip, traversal, KL, manifold, scatter, prior, posterior, ...
    assert len(at.get("image")) >= 2  # endpoints A and B (the decoded frames are in the flip-book)
    frames = _book(at, "vae_t")
    assert len(frames) == 101 and frames[50]["title"].startswith("decoded frame at t = 0.50 · |z| = ")
    for key, value in (("vae_frames", 5), ("vae_span", 2.0), ("vae_grid", 7), ("vae_draws", 4)):
        at.slider(key=key).set_value(value).run()
        _no_errors(at)
    at.radio(key="vae_method").set_value("lerp").run()
    at.selectbox(key="vae_cls_B").set_value(2).run()
    _no_errors(at)
    book = _flipbook(at, "vae_t")  # new frames (lerp, another B); the browser opens them where the user left t
    assert book["remember"] == "vae_t" and "lerp path" in book["frames"][90]["title"]


def test_vae_page_works_for_the_2d_digits_model_and_random_weights():
    at = _page("pages/vae.py")
    at.selectbox(key="vae_model").set_value("bundled:vae_digits_2d").run()
    _no_errors(at)
    assert any("several β" in i.value for i in at.info)  # one β only: the trade-off tab explains where to look
    at.toggle(key="vae_model_random").set_value(True).run()
    _no_errors(at)
    assert any("Random weights" in w.value for w in at.warning)


def test_vae_page_asks_for_uploads_and_rejects_a_non_image_inline():
    at = _page("pages/vae.py")
    at.radio(key="vae_src").set_value("Upload").run()
    assert not at.exception
    assert any("Upload both endpoint images" in i.value for i in at.info)


def test_autoencoders_page_draws_every_section():
    at = _page("pages/autoencoders.py")
    _no_errors(at)
    assert at.title[0].value == "Autoencoders"
    assert len(at.get("plotly_chart")) >= 6  # reconstructions, bottleneck, accuracy, sparsity, top inputs, atom
    assert len(at.dataframe) >= 2
    at.selectbox(key="ae_sae").set_value("bundled:sae_topk").run()
    at.selectbox(key="ae_unit").set_value(at.selectbox(key="ae_unit").options[3]).run()
    at.selectbox(key="ae_rec_ae").set_value("bundled:ae_2d").run()
    _no_errors(at)


def test_autoencoders_page_trains_in_the_app():
    import time

    at = _page("pages/autoencoders.py")
    at.select_slider(key="tr_steps").set_value(100).run()
    at.button(key="tr_go").click().run()
    _no_errors(at)
    job = at.session_state["ae_job"]
    assert job.done.wait(60)
    time.sleep(0.1)
    at.run()
    _no_errors(at)
    assert any("Trained an AE with a 16-d code" in s.value for s in at.success)  # not "Trained a AE"


def test_mae_page_draws_panels_strategies_and_sweep():
    at = _page("pages/mae.py")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "MAE reconstruction"
    assert len(at.get("plotly_chart")) == 0  # the panels are a flip-book (other tabs wait until opened)
    book = _flipbook(at, "mae_ratio")
    assert book["active"] == 15 and len(book["frames"]) == 20  # 0.75 of 0.00, 0.05, ..., 0.95
    assert "mask ratio 0.75 · 16 patches kept (of 64) · random · seed 0" in book["frames"][15]["title"]
    assert "mask ratio 0.90 · 6 patches kept (of 64)" in book["frames"][18]["title"]  # int(64 * 0.1) = 6
    assert len(book["panels"]) == 5  # the paper's four panels and the error per hidden patch
    _open(at, "mae_tab", "Strategies side by side")
    strategies = _flipbook(at, "mae_ratio_strategies")
    assert strategies["remember"] == "mae_ratio"  # opens, in the browser, at the ratio the user left the panels at
    assert len(strategies["panels"]) == 6 and "mask ratio 0.90 · 6 patches kept (of 64)" in strategies["frames"][18][
        "title"]
    _open(at, "mae_tab", "Error vs mask ratio")
    at.button(key="mae_sweep").click().run()
    assert len(at.get("plotly_chart")) == 1  # the error-vs-ratio sweep
    at.button(key="mae_redraw").click().run()
    assert at.number_input(key="mae_seed").value == 1
    assert not at.exception and not at.error


@pytest.mark.parametrize("source", ["rectangle", "attention rollout"])
def test_mae_page_focused_masking_runs_for_both_regions(source):
    at = _page("pages/mae.py")
    at.radio(key="mae_strategy").set_value("focused").run()
    at.radio(key="mae_focus_src").set_value(source).run()
    at.toggle(key="mae_hide").set_value(False).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("FocusMAE" in c.value for c in at.caption)


def test_mae_page_says_why_a_plain_vit_cannot_reconstruct():
    at = _page("pages/mae.py")
    at.sidebar.toggle(key="model_random").set_value(True).run()
    at.selectbox(key="model").set_value("other-timm").run()
    at.text_input(key="model_timm").input("vit_tiny_patch16_224").run()
    assert not at.exception
    assert any("not a masked autoencoder with a decoder" in e.value for e in at.error)


# ---- issue 13: what you see is true ----------------------------------------------------------------------------

def test_attention_page_says_when_maps_are_near_uniform_and_offers_an_absolute_scale():
    at = _page("pages/attention.py")
    at.toggle(key="model_random").set_value(True).run()  # an untrained ViT attends almost uniformly
    _no_errors(at)
    notes = [i.value for i in at.info if "of uniform attention" in i.value]
    assert any("1/64 = 0.0156" in n for n in notes), notes  # the rollout, against 1/P
    assert any("1/65 = 0.0154" in n for n in notes), notes  # per-head maps, against 1/N
    at.radio(key="att_scale").set_value("absolute").run()
    _no_errors(at)
    charts = [c for c in at.get("plotly_chart") if "Attention rollout" in c.proto.spec]
    assert charts and '"zmin":0' in charts[0].proto.spec.replace(" ", "")


def test_anatomy_caption_measures_attention_distance_against_uniform():
    at = _page("pages/anatomy.py")
    _no_errors(at)
    text = " ".join(c.value for c in at.caption)
    assert "Uniform attention over this grid gives 33.1 px" in text
    assert "mix local and global" not in text


def test_position_embeddings_page_calls_the_tiny_mae_s_sincos_table_fixed():
    at = _page("pages/posembed.py")
    at.selectbox(key="model").set_value("bundled:tiny_mae").run()
    _no_errors(at)
    words = " ".join([i.value for i in at.info] + [c.value for c in at.caption] + [s.value for s in at.subheader])
    assert "fixed 2-D sin-cos" in words
    assert "learned a 2-D coordinate system" not in words and "a learned absolute" not in words


def test_mae_page_says_the_decoder_s_output_over_visible_patches_is_untrained():
    at = _page("pages/mae.py")
    _no_errors(at)
    assert any("output over the visible patches was never trained" in c.value for c in at.caption)
    zero = _flipbook(at, "mae_ratio")["frames"][0]  # ratio 0: nothing hidden, the whole panel is untrained output
    assert zero["value"] == "0.00" and "nothing hidden: the reconstruction panel is all untrained" in zero["title"]


def test_mae_page_shows_the_focus_region_and_says_when_the_rollout_is_flat():
    at = _page("pages/mae.py")
    at.radio(key="mae_strategy").set_value("focused").run()
    _no_errors(at)
    assert any("Focus region: the rectangle you set" in c.proto.spec for c in at.get("plotly_chart"))
    at.radio(key="mae_focus_src").set_value("attention rollout").run()
    _no_errors(at)
    assert any("Focus region: this MAE encoder" in c.proto.spec for c in at.get("plotly_chart"))
    flat = [w.value for w in at.warning if "rollout is nearly flat" in w.value]
    assert flat and "uniform: 1.6%" in flat[0]  # the tiny MAE's rollout on scene 1 holds 0.9-2.0% per patch


def _images_under_maps(at: AppTest) -> list:
    """The pictures (RGB arrays) under the colour maps of every plotly figure on the page (figures with a heatmap)."""
    import base64
    import io
    import json

    import numpy as np
    from PIL import Image

    found = []
    for chart in at.get("plotly_chart"):
        traces = json.loads(chart.proto.spec)["data"]
        if any(t.get("type") == "heatmap" for t in traces):
            found += [np.asarray(Image.open(io.BytesIO(base64.b64decode(t["source"].split(",", 1)[1]))).convert("RGB"))
                      for t in traces if t.get("type") == "image"]
    return found


def _head_pictures(at: AppTest) -> set[str]:
    """The per-head flip-book's head pictures (colour bars left out)."""
    book = _flipbook(at, "att_head_layer")
    return {book["images"][k] for frame in book["frames"] for k in frame["srcs"]}


def test_attention_maps_lie_over_the_image_in_grey_unless_colour_is_asked_for():
    """A colour photo under a map mixed in hues its bar lacks (inferno over the pink circle drew magenta); grey hides
    objects that differ from their background only in colour, so colour is one choice away."""
    at = _page("pages/attention.py")
    _no_errors(at)
    grey = _images_under_maps(at)
    assert len(grey) >= 3 and all((im == im[..., :1]).all() for im in grey)  # R = G = B
    book = _head_pictures(at)
    at.radio(key="base").set_value("colour").run()
    _no_errors(at)
    colour = _images_under_maps(at)
    assert len(colour) == len(grey) and all(not (im == im[..., :1]).all() for im in colour)
    assert _head_pictures(at).isdisjoint(book)  # every head drawn again, over the colour image
