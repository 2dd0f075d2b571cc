"""AppTests of the "Inside a block" page: every step draws on the bundled tiny ViT, the block / head / query-token
controls change the numbers shown (and they are `trace_block`'s), the seed's preset shows the seed's shapes with
random weights labelled, an MAE encoder (no classifier) and a model switch keep the page working, the Pre-LN /
Post-LN numbers come on request, and the parameter formula states the seed's mislabelled terms."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import vizcore as vc
from vizcore.analysis import trace
from vizcore.data.scenes import sample_scenes

pytestmark = pytest.mark.apptest
TIMEOUT = 180
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/inside.py")
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def _figure(at: AppTest, title_start: str) -> dict:
    """The plotly figure (as JSON) whose title starts with `title_start`."""
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        if fig["layout"]["title"]["text"].startswith(title_start):
            return fig
    raise AssertionError(f"no figure titled {title_start!r}")


def _values(trace_json: dict) -> np.ndarray:
    y = trace_json["y"]
    if isinstance(y, dict):  # plotly's base64 typed array
        import base64

        return np.frombuffer(base64.b64decode(y["bdata"]), dtype=np.dtype(y["dtype"]))
    return np.asarray(y, dtype=float)


def _caption(at: AppTest, start: str) -> str:
    return next(c.value for c in at.caption if c.value.startswith(start))


def test_every_step_draws_on_the_bundled_tiny_vit():
    at = _page()
    assert at.title[0].value == "Inside a block"
    subheaders = [s.value for s in at.subheader]
    for step in range(1, 10):
        assert any(s.startswith(f"{step} · ") for s in subheaders), (step, subheaders)
    assert len(at.get("plotly_chart")) >= 11  # one picture (or more) per step
    assert "[B, 64, 192]" in _caption(at, "image [B, 3, 64, 64]")  # 64 patches of 8 x 8 x 3
    assert "[B, 4, 65, 32]" in _caption(at, "ln1 [B, 65, 128]")  # q, k, v per head
    assert not at.warning  # trained weights: no random-weights warning


def test_block_head_and_query_controls_change_the_numbers_to_trace_blocks():
    at = _page()
    model = vc.load_model("bundled:tiny_vit")
    image = sample_scenes()[0][1]  # the page's default sample
    shown = []
    for layer, head, query, name in ((0, 0, 0, "cls"), (2, 0, 0, "cls"), (2, 3, 0, "cls"), (2, 3, 29, "patch (3, 4)")):
        at.selectbox(key="in_layer").set_value(layer).run()
        at.selectbox(key="in_head").set_value(head).run()
        at.selectbox(key="in_query").set_value(query).run()
        _ok(at)
        fig = _figure(at, f"Query {name}: scores, scale, softmax (head {head}, block {layer})")
        weights = _values(fig["data"][2])  # the softmax row drawn
        expected = trace.trace_block(model, [image], layer=layer).attn[0, head, query].numpy()
        np.testing.assert_allclose(weights, expected, atol=1e-6)
        caption = _caption(at, "scores [B, 4, 65, 65]")
        assert f"largest weight {expected.max():.4f}" in caption
        shown.append(caption)
    assert len(set(shown)) == len(shown)  # every change of block, head or query changed the numbers shown


def test_seed_preset_shows_the_seeds_shapes_with_random_weights_labelled():
    at = _page()
    at.selectbox(key="in_layer").set_value(3).run()  # the preset has 2 blocks: the page falls back to block 0
    at.selectbox(key="model").set_value("preset:seed_example").run()
    _ok(at)
    assert any("[4 x 768], not [5 x 768]" in i.value for i in at.info)
    table = at.dataframe[0].value
    walk = dict(zip(table["step"], table["shape (live)"]))
    assert walk["flattened patches (P*P*C each)"] == "[4 x 768]"
    assert walk["projected patches"] == "[4 x 128]"
    assert walk["tokens: + CLS, + position embedding"] == "[5 x 128]"
    assert walk["fused qkv Linear"] == "[B, 5, 384]"
    assert walk["q (k, v) per head"] == "[B, 4, 5, 32]"
    assert walk["scores q k^T / sqrt(d)"] == "[B, 4, 5, 5]"
    assert any("Random weights" in w.value for w in at.warning)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles and all(t.startswith("Random weights · ") for t in titles), titles


def test_mae_encoder_and_model_switches_keep_working():
    at = _page()
    at.selectbox(key="in_query").set_value(64).run()  # the last patch of the tiny ViT
    at.selectbox(key="model").set_value("bundled:tiny_mae").run()
    _ok(at)
    assert any("no classifier head" in i.value for i in at.info)
    at.selectbox(key="model").set_value("preset:seed_example").run()  # 5 tokens: the query falls back to cls
    _ok(at)
    assert at.selectbox(key="in_query").value == 0


def test_pre_ln_vs_post_ln_numbers_on_request():
    at = _page()
    assert not any(m.value.startswith("**Measured now**") for m in at.markdown)  # nothing runs until asked
    at.toggle(key="in_gn_on").set_value(True).run()
    _ok(at)
    text = next(m.value for m in at.markdown if m.value.startswith("**Measured now**"))
    table = next(d.value for d in at.dataframe if "Post / Pre" in d.value.columns)
    assert len(table) == 12
    ratio = table["Post / Pre"].to_numpy()
    assert ratio[-1] > 1.5 * ratio[0]  # Post-LN's gradients grow relative to Pre-LN's toward the output
    assert f"{ratio[0]:.2f} to {ratio[-1]:.2f}" in text


def test_parameter_formula_states_the_seeds_mislabelled_terms():
    at = _page()
    text = " ".join(m.value for m in at.markdown)
    for number in ("86,329,344", "86,567,656", "589,824", "151,296", "36,864", "12 x 4 x 768"):
        assert number in text, number
    table = next(d.value for d in at.dataframe if "real − formula" in d.value.columns)
    total = table[table["part"] == "total"].iloc[0]
    assert (total["formula"], total["real"], total["real − formula"]) == ("86,329,344", "86,567,656", "238,312")
