"""Hostile files in the real browser: a zip bomb on the projector and a code-running checkpoint on the Attention
page each end in an inline message, nothing runs, and the same session keeps working."""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest

from tests.browser.conftest import wait_idle
from tests.browser.pointmap import map_frame

pytestmark = pytest.mark.browser


def _zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("images/zeros.png", b"\0" * (40 * 2**20))  # 40 MB of zeros in ~40 KB
    return buf.getvalue()


def _choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)


def _alert(page, text: str):
    alert = page.locator('[data-testid="stAlert"]').filter(has_text=text)
    alert.first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    return alert


def test_zip_bomb_on_the_projector_is_refused_inline_and_the_session_recovers(server, page):
    page.goto(server.url("projector"))
    wait_idle(page)
    map_frame(page)
    _choose(page, "Data set", "Upload a zip of images…")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "bomb.zip", "mimeType": "application/zip", "buffer": _zip_bomb()})
    wait_idle(page)
    _alert(page, "zip bomb")
    _choose(page, "Data set", "digits")
    map_frame(page)


class _RunsCode:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_code_running_checkpoint_is_refused_inline_and_never_runs(server, page, tmp_path):
    marker = tmp_path / "RAN"
    ckpt = tmp_path / "evil.pth"
    ckpt.write_bytes(pickle.dumps({"model": _RunsCode(str(marker))}))
    page.goto(server.url("attention"))
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)
    _choose(page, "Model", "Local checkpoint file or folder…")
    path = page.get_by_role("textbox", name="Checkpoint file or folder on this server")
    path.fill(str(ckpt))
    path.press("Enter")
    wait_idle(page)
    _alert(page, "could run code")
    assert not marker.exists()
    _choose(page, "Model", "Tiny ViT (shapes in clutter)")
    page.get_by_text("Top-5 predictions").first.wait_for(timeout=120_000)
