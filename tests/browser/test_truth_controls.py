"""Controls show the values the views use (issue 13 §2), in headless Chromium: on each page with an input, set
non-default controls, switch the input (sample -> upload, model -> model), and check every number the titles
and captions print against the widgets on screen, then switch back."""

from __future__ import annotations

import pytest

from tests.browser import flip
from tests.browser.conftest import wait_idle
from tests.browser.truth import (
    coffee,
    has_title,
    image,
    move,
    number,
    photo,
    select,
    selected,
    slider_value,
    tab,
    titles,
    upload,
)

pytestmark = pytest.mark.browser
T, RATIO = "t (0 = A, 1 = B)", "Mask ratio (fraction of patches hidden)"  # the flip-books' sliders


def test_mae_controls_survive_an_upload_and_the_way_back(server, page):
    page.goto(server.url("mae"))
    wait_idle(page)
    select(page, "Sample image", "scene 3: triangle")
    flip.wait_for(page, RATIO)
    flip.move(page, RATIO, 4)  # 0.75 -> 0.95, switched in the browser
    page.get_by_role("button", name="Re-draw").click()  # seed 0 -> 1: new pages, which open at 0.95
    wait_idle(page)

    def agrees(name: str) -> None:
        flip.book(page, RATIO).locator(".title", has_text="seed 1").wait_for(timeout=60_000)  # the rerun has drawn
        assert flip.value(page, RATIO) == "0.95"
        assert number(page, "Seed") == "1"
        text = flip.title(page, RATIO)
        assert f"MAE reconstruction of {name}" in text, text
        assert "mask ratio 0.95 · 3 patches kept (of 64) · random · seed 1" in text, text

    agrees("scene 3: triangle")
    upload(page, image("coffee.jpg", coffee()))
    book = flip.book(page, RATIO)
    book.locator(".title", has_text="coffee.jpg").wait_for(timeout=120_000)
    agrees("coffee.jpg")
    page.get_by_text("Sample", exact=True).first.click()
    wait_idle(page)
    assert selected(page, "Sample image") == "scene 3: triangle"
    book.locator(".title", has_text="scene 3: triangle").wait_for(timeout=120_000)
    agrees("scene 3: triangle")
    assert page.locator('[data-testid="stException"]').count() == 0

def test_attention_controls_survive_an_upload_and_the_way_back(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    select(page, "Sample image", "scene 2: square")
    flip.wait_for(page, "Layer")
    flip.move(page, "Layer", -2)  # per head: layer 3 -> 1, in the browser
    square = flip.sources(page, "Layer")
    tab(page, "Rollout")
    move(page, "Discard ratio", 0.45)
    assert has_title(page, "discard 0.45")
    upload(page, image("coffee.jpg", coffee()))
    tab(page, "Per head")  # the new image's pages open at the layer the user left
    page.wait_for_function(f"old => ({flip.SHOWN})().every(s => !s.includes(old))", arg=square[0], timeout=120_000)
    assert flip.value(page, "Layer") == "1" and flip.title(page, "Layer").startswith("CLS attention per head, layer 1")
    tab(page, "Rollout")
    page.locator(".js-plotly-plot").filter(has_text="Attention rollout").first.wait_for(timeout=120_000)
    assert slider_value(page, "Discard ratio") == "0.45"
    assert has_title(page, "Attention rollout (mean over heads, discard 0.45)"), titles(page)

    tab(page, "Query patch")  # sliders and map name the same patch, before and after a click
    wait_idle(page)
    row, col = slider_value(page, "Patch row"), slider_value(page, "Patch column")
    assert has_title(page, f"Where patch ({row}, {col}) looks"), (row, col, titles(page))
    plot = page.locator(".js-plotly-plot").filter(has_text="Where patch").first
    plot.scroll_into_view_if_needed()
    box = plot.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 6.5 / 8, box["y"] + box["height"] * 2.5 / 8)  # patch (2, 6)
    page.locator(".js-plotly-plot").filter(has_text="Where patch (2, 6)").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert (slider_value(page, "Patch row"), slider_value(page, "Patch column")) == ("2", "6")

    page.get_by_text("Sample", exact=True).first.click()
    wait_idle(page)
    assert selected(page, "Sample image") == "scene 2: square"
    tab(page, "Rollout")
    assert slider_value(page, "Discard ratio") == "0.45"
    assert has_title(page, "discard 0.45")
    tab(page, "Per head")
    page.wait_for_function("src => (" + flip.SHOWN + ")().some(s => s.includes(src))", arg=square[0], timeout=120_000)
    assert flip.value(page, "Layer") == "1" and flip.sources(page, "Layer") == square  # the same pictures as before
    assert page.locator('[data-testid="stException"]').count() == 0

def test_anatomy_block_survives_an_upload_and_the_way_back(server, page):
    page.goto(server.url("anatomy"))
    wait_idle(page)
    move(page, "Block for the shape walk-through", 2)
    page.get_by_text("Tensor shapes through encoder block 2").wait_for(timeout=60_000)
    upload(page, [image("coffee.jpg", coffee()), image("noise.jpg", photo(1))])
    page.get_by_text("Statistics over 2 images").wait_for(timeout=120_000)
    assert slider_value(page, "Block for the shape walk-through") == "2"
    assert page.get_by_text("Tensor shapes through encoder block 2").count() == 1
    page.get_by_text("All samples", exact=True).first.click()
    wait_idle(page)
    assert slider_value(page, "Block for the shape walk-through") == "2"
    assert page.get_by_text("Tensor shapes through encoder block 2").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0

def test_vae_controls_survive_uploaded_endpoints_and_the_way_back(server, page):
    page.goto(server.url("vae"))
    wait_idle(page)
    select(page, "A: class", "heart")
    move(page, "Frames in the strip", 5)  # from 9
    flip.wait_for(page, T)
    flip.move(page, T, 30)  # 0.50 -> 0.80
    assert flip.title(page, T).startswith("decoded frame at t = 0.80")
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(0).set_input_files(image("a.jpg", coffee()))
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(image("b.jpg", photo(2)))
    wait_idle(page)
    page.locator('[data-testid="stImage"]').filter(has_text="b.jpg").first.wait_for(timeout=120_000)
    flip.wait_for(page, T)
    assert flip.value(page, T) == "0.80"  # new endpoints, new frames: opened where the user left t
    assert flip.title(page, T).startswith("decoded frame at t = 0.80")
    assert slider_value(page, "Frames in the strip") == "5"
    assert has_title(page, "5 frames from A to B"), titles(page)
    page.get_by_text("Data set", exact=True).first.click()
    wait_idle(page)
    assert selected(page, "A: class") == "heart"
    assert flip.value(page, T) == "0.80" and flip.title(page, T).startswith("decoded frame at t = 0.80")
    assert has_title(page, "5 frames from A to B")
    assert page.locator('[data-testid="stException"]').count() == 0

def test_posembed_resample_size_survives_a_change_of_model(server, page):
    page.goto(server.url("posembed"))
    wait_idle(page)
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Resample to height").first.locator("input")
    box.fill("112")
    box.press("Enter")
    wait_idle(page)
    assert has_title(page, "Resampled to 14×16 for a 112×128 px input"), titles(page)
    select(page, "Model", "Tiny MAE (shapes in clutter)")
    page.get_by_text("sin-cos").first.wait_for(timeout=60_000)
    assert number(page, "Resample to height") == "112" and number(page, "Width") == "128"
    assert has_title(page, "Resampled to 14×16 for a 112×128 px input"), titles(page)
    assert page.locator('[data-testid="stException"]').count() == 0

def test_sparse_unit_title_follows_the_unit_shown_when_the_model_changes(server, page):
    page.goto(server.url("autoencoders"))
    wait_idle(page)
    tab(page, "Sparse AE units")

    def agrees() -> None:
        unit = selected(page, "Unit (most often active first)").split(" · ")[0]  # "unit 17"
        assert has_title(page, f"Top-16 held-out inputs of {unit}"), (unit, titles(page))
        assert has_title(page, f"Dictionary atom of {unit}") or not has_title(page, "Dictionary atom", 2_000)

    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Unit (most often").first
    box.click()
    page.get_by_role("option").nth(3).click()
    wait_idle(page)
    agrees()
    sae = selected(page, "Sparse AE")
    other = [o for o in ("Sparse AE · digits · 128 units, L1", "Sparse AE · digits · 128 units, top-16") if o != sae]
    select(page, "Sparse AE", other[0])
    agrees()
    assert page.locator('[data-testid="stException"]').count() == 0
