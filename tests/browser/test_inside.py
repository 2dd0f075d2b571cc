"""Real browser: on "Inside a block", choosing another query token redraws the attention row, and the numbers the page
draws (read back from the plotly figures in the DOM) are `trace_block`'s for that token."""

from __future__ import annotations

import numpy as np
import pytest

import vizcore as vc
from tests.browser.conftest import wait_idle
from vizcore.analysis import trace
from vizcore.data.scenes import sample_scenes

pytestmark = pytest.mark.browser

# The softmax bars (3rd trace of "Query ...: scores, scale, softmax") and the heatmap over the patch grid (2nd trace of
# "Where ... looks"), as plotly.js holds them after drawing.
READ = """title => {
  const plot = prefix => [...document.querySelectorAll('.js-plotly-plot')]
      .find(el => ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, '')
                  .startsWith(prefix));  // Streamlit wraps titles in <b>
  const bars = plot('Query ' + title + ': scores, scale, softmax'), grid = plot('Where ' + title + ' looks');
  if (!bars || !grid || !bars._fullData || !grid._fullData) return null;
  return {row: Array.from(bars._fullData[2].y), grid: Array.from(grid._fullData[1].z, r => Array.from(r))};
}"""


def _drawn(page, token: str) -> dict:
    page.wait_for_function(f"({READ})({token!r}) !== null", timeout=120_000)
    return page.evaluate(READ, token)


def test_changing_the_query_token_redraws_the_attention_row_with_trace_block_numbers(server, page):
    page.goto(server.url("inside"))
    wait_idle(page)
    model = vc.load_model("bundled:tiny_vit")
    attn = trace.trace_block(model, [sample_scenes()[0][1]], layer=0).attn[0, 0].numpy()  # (N, N), the defaults
    before = _drawn(page, "cls")
    np.testing.assert_allclose(before["row"], attn[0], atol=1e-6)
    np.testing.assert_allclose(before["grid"], attn[0, 1:].reshape(8, 8), atol=1e-6)

    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Query token")
    box.click()
    page.keyboard.type("patch (3, 4)")
    page.keyboard.press("Enter")
    after = _drawn(page, "patch (3, 4)")  # token 1 + 3 * 8 + 4 = 29
    wait_idle(page)
    np.testing.assert_allclose(after["row"], attn[29], atol=1e-6)
    np.testing.assert_allclose(after["grid"], attn[29, 1:].reshape(8, 8), atol=1e-6)
    assert not np.allclose(after["row"], before["row"])
    assert page.locator('[data-testid="stException"]').count() == 0


# Every text of every figure as drawn (titles, subplot titles, annotations): its box, the box of its figure, and the
# figure's title, read from the page's SVG.
_TEXTS = """() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(el => {
    const fig = el.getBoundingClientRect(), title = ((el.layout || {}).title || {}).text || '';
    return [...el.querySelectorAll('.annotation-text, .gtitle')].map(t => {
        const r = t.getBoundingClientRect();
        return {text: t.textContent, left: r.left - fig.left, right: r.right - fig.left, top: r.top, bottom: r.bottom,
                width: fig.width, figure: title.replace(/<[^>]*>/g, '')};
    });
})"""


def test_every_title_on_the_page_fits_in_its_figure(server, page):
    """Issue 13 §9 on this page: 'BatchNorm: a mean and variance per feature (over B x N = 1 x 65)' ran off its
    figure's right edge."""
    page.goto(server.url("inside"))
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    page.get_by_text("BatchNorm: a mean and variance per feature").first.wait_for(timeout=120_000)
    texts = page.evaluate(_TEXTS)
    assert any(t["text"].startswith("BatchNorm") for t in texts)
    outside = [f"{t['figure'][:40]}: {t['text']!r}" for t in texts if t["left"] < -1 or t["right"] > t["width"] + 1]
    assert not outside, outside
    assert page.locator('[data-testid="stException"]').count() == 0
