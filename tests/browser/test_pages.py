"""Real-browser tests: deep links on a fresh server, upload an image, a non-image gets a clear message."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.browser import flip
from tests.browser.conftest import wait_idle

pytestmark = pytest.mark.browser
PAGES = {"": "vizcore: see what image models learn", "attention": "Attention", "posembed": "Position embeddings",
         "anatomy": "ViT anatomy", "vae": "VAE latent space", "autoencoders": "Autoencoders",
         "mae": "MAE reconstruction", "projector": "Embedding projector"}
T, RATIO = "t (0 = A, 1 = B)", "Mask ratio (fraction of patches hidden)"  # the flip-books' sliders


@pytest.mark.parametrize("path", list(PAGES))
def test_deep_link_on_fresh_server_opens_the_page(fresh_server, page, path):
    page.goto(fresh_server.url(path))
    wait_idle(page)
    page.get_by_role("heading", name=PAGES[path]).first.wait_for(timeout=120_000)
    nav = page.locator('[data-testid="stSidebarNav"]')
    assert nav.get_by_text("Home", exact=True).count() == 1  # titles from app.py, not file names
    for title in ("Attention", "Position embeddings", "ViT anatomy", "VAE latent space", "Autoencoders",
                  "MAE reconstruction", "Embedding projector"):
        assert nav.get_by_text(title, exact=True).count() == 1
    if path:  # the page drew its figures (on the MAE page its flip-book of panels, on the projector its point map)
        page.locator('.js-plotly-plot, .flip .panels img, iframe[title*="pointmap"]').first.wait_for(timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def _png(size=(96, 72)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def _upload(page, name: str, data: bytes, mime: str) -> None:
    page.get_by_text("Upload", exact=True).click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": name, "mimeType": mime, "buffer": data})
    wait_idle(page)


def test_upload_image_shows_attention_maps(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    _upload(page, "red.png", _png(), "image/png")
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    assert page.locator(".js-plotly-plot").count() >= 2
    assert page.get_by_text("red.png: what the model saw").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0


def test_uploaded_non_image_gets_a_clear_message(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    _upload(page, "notes.png", b"these are my notes, not a picture", "image/png")
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="not an image vizcore can read")
    alert.first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.get_by_text("Sample", exact=True).click()  # the session keeps working
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)


def test_clicking_a_patch_selects_it_as_the_query(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    page.get_by_role("tab", name="Query patch").click()
    wait_idle(page)
    plot = page.locator(".js-plotly-plot").filter(has_text="Where patch").first
    plot.scroll_into_view_if_needed()
    box = plot.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.15)  # 8x8 grid: patch (1, 1)
    page.locator(".js-plotly-plot").filter(has_text="Where patch (1, 1)").first.wait_for(timeout=60_000)


def test_moving_the_interpolation_slider_changes_the_decoded_frame(server, page):
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.goto(server.url("vae"))
    wait_idle(page)
    flip.wait_for(page, T)
    page.locator(".js-plotly-plot").filter(has_text="frames from A to B").wait_for(timeout=120_000)
    assert flip.value(page, T) == "0.50" and flip.title(page, T).startswith("decoded frame at t = 0.50")
    before, messages = flip.sources(page, T), len(sent)
    flip.press(page, T, "ArrowRight", 30)  # t: 0.50 -> 0.80, switched in the browser
    assert flip.value(page, T) == "0.80" and flip.title(page, T).startswith("decoded frame at t = 0.80")
    assert flip.sources(page, T) != before
    flip.press(page, T, "Home")
    assert flip.value(page, T) == "0.00" and flip.title(page, T).startswith("decoded frame at t = 0.00")
    page.wait_for_timeout(1000)
    assert len(sent) == messages  # no move reached the server
    assert page.locator('[data-testid="stException"]').count() == 0


def test_moving_the_mask_ratio_slider_changes_the_kept_count_and_the_panels(server, page):
    page.goto(server.url("mae"))
    wait_idle(page)
    flip.wait_for(page, RATIO)
    assert flip.value(page, RATIO) == "0.75" and "16 patches kept (of 64)" in flip.title(page, RATIO)
    before = flip.sources(page, RATIO)
    flip.press(page, RATIO, "ArrowLeft", 5)  # 0.75 -> 0.50
    assert flip.value(page, RATIO) == "0.50"
    assert "MAE reconstruction of scene 1: circle" in flip.title(page, RATIO)
    assert "mask ratio 0.50 · 32 patches kept (of 64)" in flip.title(page, RATIO)
    after = flip.sources(page, RATIO)
    assert after[0] == before[0] and after[1] != before[1]  # the same original, a different masked panel
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.parametrize("path", ["", "attention"])
def test_the_app_fetches_nothing_from_other_hosts_and_its_favicon_is_local(server, page, path):
    """Offline by default: the favicon came from a font CDN (fonts.gstatic.com) and failed without internet."""
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(server.url()) else None)
    page.goto(server.url(path))
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=60_000)
    icons = page.evaluate("() => [...document.querySelectorAll('link[rel~=icon]')].map(l => l.href)")
    assert icons and all(i.startswith(server.url()) or i.startswith("data:") for i in icons), icons
    assert not [u for u in outside if not u.startswith("data:")], outside
