"""Eight browser sessions at once on different pages and models: no exception anywhere, and every session shows
exactly the pictures and numbers it shows when it runs alone (no cross-talk through cached models, hooks or
global torch state)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest

from tests.browser.conftest import wait_idle
from tests.browser.pointmap import map_frame

pytestmark = pytest.mark.browser
SIGNATURE_JS = """() => {
  const pics = [...document.querySelectorAll('.js-plotly-plot image, [data-testid="stImage"] img')]
      .map(e => e.getAttribute('href') || e.getAttribute('src') || '');
  const text = [...document.querySelectorAll('.js-plotly-plot .gtitle, [data-testid="stMetricValue"]')]
      .map(e => e.textContent);
  const flips = [...document.querySelectorAll('*')].filter(e => e.shadowRoot)  // flip-books (vizcore.ui.flipbook)
      .map(h => h.shadowRoot.querySelector('.flip')).filter(Boolean)
      .map(r => [r.querySelector('.value').textContent, r.querySelector('.title').textContent,
                 ...[...r.querySelectorAll('.panels img')].map(i => i.src)].join('|'));
  return pics.concat(text, flips);
}"""


def _press(page, slider_label: str, key: str, times: int) -> None:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text=slider_label).get_by_role("slider")
    if slider.count() == 0:  # a flip-book's slider (switched in the browser)
        slider = page.locator(".flip").filter(has=page.locator(".name", has_text=slider_label)).locator("input")
    slider.focus()
    for _ in range(times):
        page.keyboard.press(key)


def _click(page, text: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_text(text, exact=True).first.click()


def _choose(page, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option).first.click()


@dataclass
class Session:
    """One user: a page, what they do there, and the element that says the page has drawn."""

    path: str
    ready: str                      # text inside a plot or caption that exists once the page has drawn
    act: list = field(default_factory=list)  # (function, args) applied in order after the first draw

    def signature(self, page) -> str:
        return hashlib.sha256("\n".join(page.evaluate(SIGNATURE_JS)).encode()).hexdigest()


SESSIONS = [
    Session("attention", "Top-5 predictions"),
    Session("attention", "Top-5 predictions", [(_choose, ("Sample image", "scene 3: triangle"))]),
    Session("attention", "what the model saw", [(_choose, ("Model", "Tiny MAE (shapes in clutter)"))]),
    Session("vae", "frames from A to B", [(_press, ("t (0 = A, 1 = B)", "ArrowRight", 7))]),
    Session("vae", "frames from A to B", [(_press, ("t (0 = A, 1 = B)", "ArrowLeft", 12))]),
    Session("mae", "MAE reconstruction of"),
    Session("mae", "MAE reconstruction of", [(_press, ("Mask ratio", "ArrowLeft", 5))]),
]
SESSIONS.append(Session("projector", "Embedding quality", [(_click, ("UMAP",))]))  # then scores of the UMAP map


def _open(context, server, s: Session):
    page = context.new_page()
    page.set_default_timeout(240_000)
    page.goto(server.url(s.path), wait_until="commit")
    return page


def _finish(page, s: Session) -> str:
    page.get_by_text(s.ready).first.wait_for()
    wait_idle(page)
    for fn, args in s.act:
        fn(page, *args)
        wait_idle(page)
    drawn = ""
    if s.path == "projector":  # the map's points and colours (a digest of its buffers) must match too
        frame = map_frame(page)
        frame.get_by_text("UMAP 2-D").first.wait_for()
        drawn = frame.evaluate("() => window.pointmap.dataId")
    page.wait_for_timeout(1500)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0, s
    return s.signature(page) + drawn


def test_eight_sessions_at_once_match_their_single_session_runs(server, browser):
    alone = {}
    for i, s in enumerate(SESSIONS):  # one at a time: the reference
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        alone[i] = _finish(_open(context, server, s), s)
        context.close()
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in SESSIONS]
    pages = [_open(c, server, s) for c, s in zip(contexts, SESSIONS)]  # all requests in flight together
    together = {i: _finish(p, s) for i, (p, s) in enumerate(zip(pages, SESSIONS))}
    for c in contexts:
        c.close()
    assert len(SESSIONS) == 8
    assert together == alone, [SESSIONS[i].path for i in alone if alone[i] != together[i]]
