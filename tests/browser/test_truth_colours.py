"""Colours on screen are the colours vizcore built (issue 13 §1), checked in headless Chromium.

Colours: every plotly figure the server sends is captured from the websocket (Streamlit's own `ForwardMsg`
protobuf: the JSON of the figure exactly as vizcore built it) and compared with what plotly.js holds in the page
(`el.data`, `el.layout`, `el._fullLayout`): every string of every trace (colour scales, marker and line colours,
hover templates), every colour in the layout, and the colour cycle. Streamlit's frontend rewrites some literal
colours (`#000001`...`#000040`) and, with its theme, the template: either shows up here as a difference.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.browser.conftest import wait_idle
from tests.browser.truth import plain

pytestmark = pytest.mark.browser

# The projector's map is not plotly: its drawn pixels are checked against the colours built in
# tests/browser/test_projector.py::test_the_pixels_drawn_are_the_colours_built.
PAGES = ["attention", "posembed", "anatomy", "vae", "autoencoders", "mae"]
COLOUR = re.compile(r"^(#[0-9a-fA-F]{3,8}|rgba?\(.*\)|hsla?\(.*\))$")

# Every string leaf of the traces and every colour in the layout (template left out: compared through the colour
# cycle below), with its path, as plotly.js holds them.
_READ_PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => {
    const out = {};
    const walk = (v, path) => {
        if (typeof v === 'string') { out[path] = v; return; }
        if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
        if (Array.isArray(v)) {
            if (!v.every(x => typeof x === 'number')) v.forEach((x, i) => walk(x, path + '/' + i));
            return;
        }
        for (const k of Object.keys(v)) { if (!k.startsWith('_') && k !== 'template') walk(v[k], path + '/' + k); }
    };
    (el.data || []).forEach((t, i) => walk(t, 'data/' + i));
    walk(el.layout || {}, 'layout');
    const title = el.layout && el.layout.title ? (el.layout.title.text || '') : '';
    return {title: title, strings: out, colorway: (el._fullLayout || {}).colorway || null};
})"""


class Specs:
    """Every plotly figure spec the server sent over the websocket, newest last (`ref_hash` messages resolved)."""

    def __init__(self, page) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg = ForwardMsg
        self.by_hash: dict[str, object] = {}
        self.figures: list[dict] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if not isinstance(payload, (bytes, bytearray)):
            return
        msg = self._msg.FromString(bytes(payload))
        if msg.WhichOneof("type") == "ref_hash":
            msg = self.by_hash.get(msg.ref_hash, msg)
        elif msg.hash:
            self.by_hash[msg.hash] = msg
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        if element.WhichOneof("type") == "plotly_chart":
            self.figures.append(json.loads(element.plotly_chart.spec))


def _spec_strings(spec: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(string leaves of the traces, colour leaves of the layout without its template), keyed like _READ_PLOTS."""
    data: dict[str, str] = {}
    layout: dict[str, str] = {}

    def walk(v, path: str, out: dict, colours_only: bool) -> None:
        if isinstance(v, str):
            if not colours_only or COLOUR.match(v):
                out[path] = v
        elif isinstance(v, list):
            if v and all(isinstance(x, (int, float)) for x in v):
                return
            for i, x in enumerate(v):
                walk(x, f"{path}/{i}", out, colours_only)
        elif isinstance(v, dict) and "bdata" not in v:
            for k, x in v.items():
                if not k.startswith("_") and k != "template":
                    walk(x, f"{path}/{k}", out, colours_only)

    for i, trace in enumerate(spec.get("data", [])):
        walk(trace, f"data/{i}", data, colours_only=False)
    walk(spec.get("layout", {}), "layout", layout, colours_only=True)
    return data, layout


def _differences(spec: dict, shown: dict) -> list[str]:
    data, layout = _spec_strings(spec)
    diffs = [f"{p}: built {v!r}, drawn {shown['strings'].get(p)!r}" for p, v in {**data, **layout}.items()
             if shown["strings"].get(p) != v]
    colorway = spec.get("layout", {}).get("template", {}).get("layout", {}).get("colorway")
    if colorway and shown["colorway"] and [c.lower() for c in colorway] != [c.lower() for c in shown["colorway"]]:
        diffs.append(f"colour cycle: built {colorway[:3]}..., drawn {shown['colorway'][:3]}...")
    return diffs


# Clicks after the page's defaults, so figures that only appear on request are compared too.
ACTIONS = {"attention": ["absolute: 0 → largest value"], "mae": ["Focused", "attention rollout"]}


@pytest.mark.parametrize("path", PAGES)
def test_every_figure_on_screen_has_the_colours_vizcore_built(server, page, path):
    specs = Specs(page)
    page.goto(server.url(path))
    wait_idle(page)
    for text in ACTIONS.get(path, []):  # before waiting for a figure: the MAE page's first figure needs "Focused"
        page.get_by_text(text, exact=True).first.click()
        wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
    wait_idle(page)
    shown = page.evaluate(_READ_PLOTS)
    assert shown, "no figure on the page"
    problems = []
    for plot in shown:
        candidates = [s for s in specs.figures
                      if plain(s.get("layout", {}).get("title", {}).get("text", "")) == plain(plot["title"])]
        assert candidates, f"no figure titled {plot['title']!r} came over the websocket"
        diffs = [_differences(s, plot) for s in reversed(candidates)]  # the newest first
        if all(diffs):
            problems.append(f"{plain(plot['title'])[:70]}: " + "; ".join(diffs[0][:3]))
    assert not problems, "\n".join(problems)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_top_predictions_read_on_screen_as_the_model_gave_them(server, page):
    """The percentages drawn beside the class names (the SVG text in the page) are the bars' own probabilities."""
    page.goto(server.url("attention"))
    page.get_by_text("Top-5 predictions").first.wait_for(timeout=120_000)
    wait_idle(page)
    drawn = page.evaluate("""() => {
        const el = [...document.querySelectorAll('.js-plotly-plot')].find(e =>
            ((e.layout.title || {}).text || '').includes('Top-5 predictions'));
        return {x: [...el.data[0].x], labels: [...el.querySelectorAll('.yaxislayer-above .ytick text')]
            .map(t => t.textContent)};
    }""")
    shown = [float(label.split()[-1].rstrip("%").lstrip("<")) / 100 for label in drawn["labels"]]
    assert len(shown) == len(drawn["x"]) == 5 and shown == sorted(shown, reverse=True)
    for p, s, label in zip(drawn["x"], shown, drawn["labels"]):
        assert abs(s - p) <= 0.0005 + 0.05 * p, (label, p)  # 93.3% for 0.9331, 0.98% for 0.00981
