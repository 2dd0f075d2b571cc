"""Browser latencies in headless Debian Chromium, bundled models.

    python benchmarks/bench_browser.py [--repeats 5] [--moves 20]

Measures (medians): server start to the first page interactive (cold: imports, model load); uploading an image
to its attention maps being drawn (a fresh image each time, so nothing is cached); moving the VAE page's
interpolation slider one step to the new decoded frame being shown (`--moves` moves).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Server, wait_idle  # noqa: E402

RUN_DONE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
FRAME_CHANGED = """old => [...document.querySelectorAll('[data-testid="stImage"]')]
    .filter(e => e.textContent.includes('decoded frame'))
    .some(e => { const img = e.querySelector('img'); return img && img.complete && img.src !== old; })"""


def _png(seed: int) -> bytes:
    from vizcore.data.scenes import sample_scenes

    buf = io.BytesIO()
    sample_scenes(seed=seed, n=1)[0][1].save(buf, "PNG")
    return buf.getvalue()


def _uploads(page, repeats: int) -> list[float]:
    page.get_by_text("Upload", exact=True).click()
    wait_idle(page)
    out = []
    for i in range(repeats):
        name = f"scene{i}.png"
        t = time.perf_counter()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            {"name": name, "mimeType": "image/png", "buffer": _png(100 + i)})
        page.get_by_text(f"{name}: what the model saw").wait_for(timeout=120_000)
        page.wait_for_function(RUN_DONE, timeout=120_000)
        out.append(time.perf_counter() - t)
        wait_idle(page)
    return out


def _vae_moves(page, url: str, moves: int) -> list[float]:
    page.goto(url)
    frame = page.locator('[data-testid="stImage"]').filter(has_text="decoded frame").locator("img")
    frame.wait_for(timeout=180_000)
    wait_idle(page)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="t (0 = A, 1 = B)").get_by_role("slider")
    slider.focus()
    out = []
    for _ in range(moves):
        before = frame.get_attribute("src")
        t = time.perf_counter()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(FRAME_CHANGED, arg=before, timeout=60_000)
        out.append(time.perf_counter() - t)
        page.wait_for_function(RUN_DONE, timeout=60_000)
    return out


def rows(repeats: int = 5, moves: int = 20) -> list[dict]:
    """One row per measurement: {"measurement", "median_s", "n"}."""
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    server = Server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url("attention"))
            page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
            cold = time.perf_counter() - t0
            wait_idle(page)
            uploads = _uploads(page, repeats)
            slider = _vae_moves(page, server.url("vae"), moves)
            browser.close()
    finally:
        server.stop()
    return [
        {"measurement": "server start to first Attention page with maps (cold)", "median_s": cold, "n": 1},
        {"measurement": "upload to attention maps drawn, bundled ViT", "median_s": statistics.median(uploads),
         "n": repeats},
        {"measurement": "VAE slider move to new decoded frame shown", "median_s": statistics.median(slider),
         "n": moves},
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--moves", type=int, default=20)
    args = ap.parse_args()
    print("| measurement | median s | n |")
    print("|---|---|---|")
    for r in rows(args.repeats, args.moves):
        print(f"| {r['measurement']} | {r['median_s']:.2f} | {r['n']} |")


if __name__ == "__main__":
    main()
