"""Browser latencies of the Attention page with the bundled ViT, in headless Debian Chromium.

    python benchmarks/bench_browser.py [--repeats 5]

Measures (medians): server start to the first page interactive; uploading an image to its attention maps
being drawn (a fresh image each time, so nothing is cached); moving the rollout discard slider to the redrawn map.
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


def _png(seed: int) -> bytes:
    from vizcore.scenes import sample_scenes

    buf = io.BytesIO()
    sample_scenes(seed=seed, n=1)[0][1].save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    t0 = time.perf_counter()
    server = Server()
    uploads = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server.url("attention"))
            page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
            cold = time.perf_counter() - t0
            wait_idle(page)
            page.get_by_text("Upload", exact=True).click()
            wait_idle(page)
            for i in range(args.repeats):
                name = f"scene{i}.png"
                t = time.perf_counter()
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                    {"name": name, "mimeType": "image/png", "buffer": _png(100 + i)})
                page.get_by_text(f"{name}: what the model saw").wait_for(timeout=120_000)
                page.wait_for_function(RUN_DONE, timeout=120_000)
                uploads.append(time.perf_counter() - t)
                wait_idle(page)
            browser.close()
    finally:
        server.stop()
    print("| measurement | median s |")
    print("|---|---|")
    print(f"| server start to first Attention page with maps (cold) | {cold:.2f} |")
    print(f"| upload to maps drawn, bundled ViT ({args.repeats} uploads) | {statistics.median(uploads):.2f} |")


if __name__ == "__main__":
    main()
