"""Helpers of the browser tests of issue 13 (what the browser shows is what vizcore built): read and move
Streamlit widgets, titles and captions; upload, download and make small test images."""

from __future__ import annotations

import io
import re
import time

from PIL import Image

from tests.browser.conftest import wait_idle


def plain(title: str) -> str:
    return re.sub(r"</?b>", "", title or "").strip()

def jpeg(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG")
    return buf.getvalue()

def coffee() -> bytes:
    from skimage import data as skdata

    return jpeg(skdata.coffee())

def photo(seed: int, size=(120, 90)) -> bytes:
    import numpy as np

    return jpeg(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))

def slider(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).first

def slider_value(page, label: str) -> str:
    return slider(page, label).locator('[data-testid="stSliderThumbValue"]').inner_text().strip()

def move(page, label: str, to: float) -> None:
    """Move a slider with the keyboard until the page shows `to`, then wait for the rerun.

    Aims at a value rather than counting presses: under load a press can land late (after a retry, so twice) or be
    lost to a rerun that redraws the slider, and pressing toward the target until it holds corrects both. A target
    off the slider's range or steps fails at once, and one it keeps stepping over fails after a few turns."""
    thumb = slider(page, label).get_by_role("slider").first
    lo, hi, step = (float(thumb.get_attribute(a)) for a in ("min", "max", "step"))
    steps = (to - lo) / step
    assert lo - 1e-9 <= to <= hi + 1e-9 and abs(steps - round(steps)) < 1e-6, f"{label!r} cannot hold {to}"
    turns, last = 0, None
    for _ in range(2 * round((hi - lo) / step) + 10):
        wait_idle(page)  # a rerun still drawing can redraw the slider and lose a press
        now = float(thumb.input_value())
        if abs(now - to) < step / 2:
            return
        right = to > now
        turns += last is not None and right != last
        assert turns <= 3, f"slider {label!r} keeps stepping over {to}; it shows {now}"
        last = right
        thumb.focus()
        page.keyboard.press("ArrowRight" if right else "ArrowLeft")
        deadline = time.monotonic() + 2
        while float(thumb.input_value()) == now and time.monotonic() < deadline:
            time.sleep(0.05)
    raise AssertionError(f"slider {label!r} did not reach {to}; it shows {thumb.input_value()}")

def number(page, label: str) -> str:
    return page.locator('[data-testid="stNumberInput"]').filter(has_text=label).first.locator("input").input_value()

def select(page, label: str, option: str) -> None:
    """Choose `option` in selectbox `label` (typing filters the list, so long lists need no scrolling)."""
    wait_idle(page)
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.locator('input[role="combobox"]')
    for attempt in range(3):
        box.click()
        box.fill(option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - the list closed under a rerun: open it again
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            wait_idle(page)
    wait_idle(page)

def selected(page, label: str) -> str:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    return box.locator('input[role="combobox"]').input_value().strip()

def titles(page) -> list[str]:
    return [plain(t) for t in page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].map(el => (el.layout.title || {}).text || '')")]

def captions(page) -> str:
    return " ".join(page.locator('[data-testid="stCaptionContainer"]').all_inner_texts())

def upload(page, files, radio: str = "Upload", uploader: int = 0) -> None:
    page.get_by_text(radio, exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(uploader).set_input_files(files)
    wait_idle(page)

def image(name: str, data: bytes, mime: str = "image/jpeg") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}

def has_title(page, text: str, timeout: float = 30_000) -> bool:
    """Whether a figure titled with `text` is on the page (waiting up to `timeout` ms for a rerun to draw it)."""
    try:
        page.wait_for_function("t => [...document.querySelectorAll('.js-plotly-plot')].some(el => "
                               "((el.layout.title || {}).text || '').replace(/<\\/?b>/g, '').includes(t))",
                               arg=text, timeout=timeout)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: report False with the titles in the assert
        return False
    return True

def tab(page, name: str) -> None:
    """Click tab `name` once the page has settled on one set of tabs."""
    wait_idle(page)
    tab = page.get_by_role("tab", name=name, exact=True)
    for _ in range(50):
        if tab.count() == 1:
            break
        page.wait_for_timeout(200)
    tab.click()
    wait_idle(page)

def download(page, button: str) -> bytes:
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name=button).first.click()
    with open(info.value.path(), "rb") as f:
        return f.read()

def png(data: bytes):
    im = Image.open(io.BytesIO(data))
    im.load()
    return im, dict(im.text)

def plot_width(page, title: str) -> float:
    return page.locator(".js-plotly-plot").filter(has_text=title).first.bounding_box()["width"]

def tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()
