"""Issue 12's "done when", in a real browser: on a server whose Hugging Face Hub is a loopback stub serving
`timm/vit_small_patch16_224.dino` (random weights), a person sees that the bundled model's answer for a photo means
nothing, picks DINO on the Attention page, clicks Download, watches the progress (bytes, rate, time left), can cancel
and resume, and then sees DINO's maps. Screenshots of each step go to /tmp/shots/."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import pytest

from tests.browser import flip
from tests.browser.conftest import Server, wait_idle

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("VIZCORE_SHOTS", "/tmp/shots"))
DINO_OPTION = "DINO ViT-S/16 (self-supervised) · weights not on this machine"


@pytest.fixture
def hub_app(hub):
    """A fresh app server whose huggingface_hub talks to the stub Hub, with an empty cache."""
    s = Server(env={"HF_ENDPOINT": hub.url, "HF_HOME": os.environ["HF_HOME"], "HF_HUB_OFFLINE": "0",
                    "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_TOKEN": None})
    yield s
    log = s.stop()
    assert "Traceback" not in log, log


def _select(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def _cat_png() -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.chelsea()).save(buf, format="PNG")
    return buf.getvalue()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_pick_dino_download_with_progress_cancel_resume_then_its_maps(hub_app, hub, page):
    page.goto(hub_app.url("attention"))
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)

    page.get_by_text("Upload", exact=True).click()  # a user's photo for the 64-px shapes model
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "cat.png", "mimeType": "image/png", "buffer": _cat_png()})
    notice = page.locator('[data-testid="stAlert"]').filter(has_text="not meaningful")
    notice.first.wait_for(timeout=60_000)
    assert "Tiny ViT" in notice.first.inner_text() and "Your upload (cat.png)" in notice.first.inner_text()
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    wait_idle(page)
    _shot(page, "01_out_of_domain_notice_upload")

    page.get_by_text("Sample", exact=True).click()
    wait_idle(page)
    _select(page, "Sample image", "cat (scikit-image)")  # a bundled photo: the same notice
    notice.first.wait_for(timeout=60_000)
    assert "cat (scikit-image)" in notice.first.inner_text()

    _select(page, "Model", DINO_OPTION)
    download = page.get_by_role("button", name="Download weights (≈87 MB)")
    download.wait_for(timeout=60_000)
    assert not hub.requests("GET", "/cdn/") and not hub.requests("HEAD")  # nothing fetched before the click
    _shot(page, "02_download_button")

    hub.delay = 0.002  # per 8 KB piece: the 43 MB file takes ~15 s, long enough to watch and to cancel
    download.click()
    bar = page.locator('[data-testid="stProgress"]').filter(has_text="MB/s")
    bar.first.wait_for(timeout=30_000)
    page.wait_for_function("() => /[1-9][0-9.]* MB of 43\\.3 MB/.test(document.body.innerText)", timeout=30_000)
    text = bar.first.inner_text()
    assert re.search(r"MB of 43\.3 MB · [0-9.]+ MB/s · \d+ s left", text), text
    _shot(page, "03_download_progress")

    page.get_by_role("button", name="Cancel download").click()
    cancelled = page.locator('[data-testid="stAlert"]').filter(has_text="Download cancelled")
    cancelled.first.wait_for(timeout=30_000)
    wait_idle(page)
    assert re.search(r"[0-9.]+ (MB|kB) kept", cancelled.first.inner_text())
    partial, = Path(os.environ["HF_HOME"]).rglob("*.incomplete")
    kept = partial.stat().st_size
    assert 0 < kept < 43_300_000
    _shot(page, "04_download_cancelled")

    hub.delay = 0.0
    t0 = time.monotonic()
    page.get_by_role("button", name="Download weights (≈87 MB)").click()
    page.get_by_text("DINO ViT-S/16 (self-supervised) · 12 layers × 6 heads", exact=False).wait_for(timeout=180_000)
    flip.wait_for(page, "Layer")  # the first tab's per-head maps (a flip-book over the layers)
    wait_idle(page)
    elapsed = time.monotonic() - t0
    resumed = [r for r in hub.requests("GET", "/cdn/") if r.headers.get("range", "").startswith("bytes=")]
    assert resumed and int(resumed[-1].headers["range"][6:-1]) >= kept  # it continued where it stopped
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlert"]').filter(has_text="not meaningful").count() == 0
    assert page.get_by_role("button", name=re.compile("Download weights")).count() == 0
    _shot(page, "05_dino_maps")
    print(f"resume + first DINO maps: {elapsed:.1f} s")

    page.goto(hub_app.url())  # Home now lists DINO's weights as here
    wait_idle(page)
    row = page.locator("table tr").filter(has_text="DINO ViT-S/16 (self-supervised)").first
    row.wait_for(timeout=60_000)
    heads = [h.strip() for h in row.locator("xpath=ancestor::table//th").all_inner_texts()]
    assert row.locator("td").nth(heads.index("weights here")).inner_text().strip() == "yes"  # as the browser drew it
    page.get_by_role("heading", name="Real pretrained models").scroll_into_view_if_needed()
    _shot(page, "06_home_models")
    assert page.get_by_text("Download a model now").count() == 1
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Download a model").first
    offered = box.locator('input[role="combobox"]').input_value()
    assert "DINO ViT-B/16" in offered and "ViT-S/16" not in offered  # the first model still to fetch, not DINO-S
