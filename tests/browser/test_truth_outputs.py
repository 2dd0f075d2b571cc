"""What the browser hands out and says matches the data (issue 13 §3, §5, §6), in headless Chromium: downloads
are the figures on screen, warnings name what is odd about the input, and uploads keep the good files."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.browser import flip
from tests.browser.conftest import wait_idle
from tests.browser.truth import (
    download,
    has_title,
    image,
    jpeg,
    photo,
    png,
    slider_value,
    tab,
    tiny_png,
    upload,
)

pytestmark = pytest.mark.browser
T, RATIO = "t (0 = A, 1 = B)", "Mask ratio (fraction of patches hidden)"  # the flip-books' sliders


# ---- downloads are what is on screen (§3) ---------------------------------------------------------------------------

def test_attention_downloads_are_the_figures_on_screen(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    page.get_by_text("Random weights (untrained)").click()
    wait_idle(page)
    flip.book(page, "Layer").locator(".title", has_text="within").wait_for(timeout=60_000)  # random weights drawn
    flip.move(page, "Layer", -1)  # per head: layer 3 -> 2, in the browser
    assert flip.value(page, "Layer") == "2"
    shown = flip.title(page, "Layer")
    assert shown.startswith("CLS attention per head, layer 2") and "uniform attention 1/65 = 0.0154" in shown, shown
    assert "of uniform attention" in shown  # an untrained ViT's heads are near uniform: the page says so
    im, text = png(download(page, "Download every layer (PNG)"))  # every page of the flip-book
    assert text["Title"] == "CLS attention per head, every layer"
    assert "random weights" in text["Model"] and "Tiny ViT" in text["Model"]
    assert all(f"layer {i}: colour scale shared by all heads (min → max)" in text["Description"] for i in range(4))
    assert "uniform attention 1/65" in text["Description"]
    layer2 = next(line for line in text["Description"].splitlines() if line.startswith("layer 2: "))
    assert layer2.removeprefix("layer 2: ") in shown  # the same range as the page on screen
    assert im.width >= flip.book(page, "Layer").bounding_box()["width"]  # at least as large as on screen

    tab(page, "Query patch")
    row, col = slider_value(page, "Patch row"), slider_value(page, "Patch column")
    title = f"Where patch ({row}, {col}) looks at layer 3"
    assert has_title(page, title)
    panel = page.get_by_role("tabpanel").filter(has_text="Where patch")
    with page.expect_download(timeout=120_000) as info:
        panel.get_by_role("button", name="Download this figure (PNG)").click()
    im, text = png(Path(info.value.path()).read_bytes())
    assert text["Title"] == title and "random weights" in text["Model"]
    assert page.locator('[data-testid="stException"]').count() == 0


def test_mae_and_vae_downloads_name_their_model_and_settings(server, page):
    page.goto(server.url("mae"))
    wait_idle(page)
    flip.wait_for(page, RATIO)
    flip.move(page, RATIO, -5)  # 0.75 -> 0.50: the download holds every ratio, so it includes the one shown
    assert "mask ratio 0.50 · 32 patches kept (of 64)" in flip.title(page, RATIO)
    im, text = png(download(page, "Download the panels at every mask ratio (PNG)"))
    assert text["Title"] == "MAE reconstruction of scene 1: circle at every mask ratio"
    assert text["Model"] == "Tiny MAE (shapes in clutter)"
    lines = text["Description"].split("\n")
    assert len(lines) == 20 and lines[10].startswith("mask ratio 0.50 · 32 patches kept (of 64) · random · seed 0")
    assert lines[10] in flip.title(page, RATIO)  # the row of the ratio shown names exactly what the screen says
    assert im.width >= flip.book(page, RATIO).locator(".panels").bounding_box()["width"]

    page.goto(server.url("vae"))
    wait_idle(page)
    page.locator(".js-plotly-plot").filter(has_text="frames from A to B").first.wait_for(timeout=120_000)
    gif = Image.open(io.BytesIO(download(page, "Download the walk as an animated GIF")))
    assert gif.n_frames == 2 * 9 - 2  # the strip's 9 frames, forwards and back
    frame = flip.book(page, T).locator(".panels img").first.bounding_box()
    assert gif.width >= frame["width"] and gif.height >= frame["height"]


# ---- words that match the input (§5) --------------------------------------------------------------------------------

def test_a_1x1_upload_is_called_an_enlargement(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    upload(page, image("dot.png", tiny_png(), "image/png"))
    page.get_by_text("dot.png is only 1×1 px: the model sees it enlarged 64× to 64×64 px").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_vae_warns_when_an_endpoint_is_far_outside_the_prior(server, page):
    from skimage import data as skdata

    page.goto(server.url("vae"))
    wait_idle(page)
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(0).set_input_files(
        image("astronaut.jpg", jpeg(skdata.astronaut())))
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(image("b.jpg", photo(2)))
    wait_idle(page)
    page.get_by_text("Endpoint A's code is far outside the prior").wait_for(timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0


# ---- uploads: partial success, named failures (§6) ------------------------------------------------------------------

def test_anatomy_keeps_the_good_uploads_and_names_the_rejected_one(server, page):
    from skimage import data as skdata

    page.goto(server.url("anatomy"))
    wait_idle(page)
    photos = [image(f"{n}.jpg", jpeg(getattr(skdata, n)())) for n in ("coffee", "astronaut", "chelsea")]
    upload(page, [*photos, image("notes.png", b"these are my notes, not a picture", "image/png")])
    page.get_by_text("Statistics over 3 images").wait_for(timeout=180_000)  # the three photos are used
    warning = page.locator('[data-testid="stAlert"]').filter(has_text="Using 3 of 4 uploaded files")
    assert warning.count() == 1
    assert "notes.png" in warning.inner_text() and "not an image" in warning.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
