"""Hover thumbnails at scale (`vizcore.ui.thumbsheets`): how fast sheets are written, their size on disk, and what a
hover costs in the browser when the point's sheet must first be fetched.

    python benchmarks/bench_thumbs.py [--parts write hover] [--images 100000] [--vectors 20000] [--hover 25000]

- write: the MNIST test set (`../shared/data/mnist10k.npz`) repeated to `--images` grey 28-px images in memory
  (what the app does for an in-memory data set), and `--vectors` rows of your own vectors whose thumbnail column
  holds 48-px JPEGs (what `vizcore embed` writes), each through the app's own `hover_sheets`. Printed: images/s,
  seconds, bytes a thumbnail on disk, and the time for a million at that rate.
- hover: the projector page on `--hover` vectors with MNIST thumbnails, after every sheet is written; 40 points
  hovered one after another, each from outside its sheet's cells. Printed: the median time from the mouse move to
  the point's text (the baseline, no image involved) and to its thumbnail drawn, and the frame's own fetch + decode
  time of a sheet.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MNIST = ROOT.parent / "shared" / "data" / "mnist10k.npz"


def _mnist() -> np.ndarray:
    return np.load(MNIST)["images"]  # (10000, 28, 28) uint8


def _jpeg48(im: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(im).convert("RGB").resize((48, 48), Image.Resampling.LANCZOS).save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def _wait(sheets) -> float:
    t = time.perf_counter()
    while sheets.status() == "writing":
        time.sleep(0.01)
    return time.perf_counter() - t


def write(n_images: int, n_vectors: int) -> None:
    import pandas as pd
    import torch

    from vizcore.io.vectors import Vectors
    from vizcore.ui import projector_map
    from vizcore.ui.projector_state import DataChoice

    digits = _mnist()
    rows = []
    images = torch.from_numpy(np.resize(digits, (n_images, 28, 28))).float().div(255).unsqueeze(1)  # (N, 1, 28, 28)
    t = time.perf_counter()
    data = DataChoice(f"bench-mnist-{time.time()}", "mnist", SimpleNamespace(images=images))
    sheets = projector_map.hover_sheets(data)
    seconds = time.perf_counter() - t + _wait(sheets)
    rows.append(("in memory, grey 28 px (PNG sheets)", n_images, seconds, sheets.folder))
    blobs = [_jpeg48(im) for im in digits[:1000]]
    meta = pd.DataFrame({"label": ["d"] * n_vectors, "thumbnail": [blobs[i % 1000] for i in range(n_vectors)]})
    v = Vectors(np.zeros((n_vectors, 2), np.float32), meta, "bench", "thumbnail", "bytes")
    t = time.perf_counter()
    sheets = projector_map.hover_sheets(DataChoice(f"bench-vectors-{time.time()}", "v", SimpleNamespace(), v))
    seconds = time.perf_counter() - t + _wait(sheets)
    rows.append(("your vectors, 48-px JPEG column (JPEG sheets)", n_vectors, seconds, sheets.folder))
    print("| thumbnails from | images | s | images/s | bytes a thumbnail on disk | a million at this rate, min |")
    print("|---|---|---|---|---|---|")
    for name, n, s, folder in rows:
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"| {name} | {n:,} | {s:.1f} | {n / s:,.0f} | {size / n:.0f} | {1e6 / (n / s) / 60:.1f} |")


def hover(n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Server
    from tests.browser.pointmap import drawn, on_page, open_vectors, pixels

    digits = _mnist()
    rng = np.random.default_rng(0)
    blobs = [_jpeg48(im) for im in digits[:1000]]
    path = Path(tempfile.mkdtemp()) / "hover.parquet"
    X = rng.normal(size=(n, 8)).astype(np.float32)
    pq.write_table(pa.table({"vector": list(X), "label": [str(r % 10) for r in range(n)],
                             "thumbnail": [blobs[r % 1000] for r in range(n)]}), path)
    server = Server(env={"VIZCORE_WARMUP": "0"})
    text_ms, thumb_ms, fetch_ms = [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            frame = open_vectors(page, server.url("projector"), path, n)
            time.sleep(n / 1500)  # let the background job write every sheet (about 2,000 thumbnails/s here)
            m = drawn(frame)
            px = pixels(m["view"], m["xy"])
            seen = set()
            for row in rng.permutation(n):
                sheet = int(row) // 256
                if sheet in seen:
                    continue
                seen.add(sheet)
                target = on_page(frame, px[row])
                page.mouse.move(5, 5)  # off the map: nothing hovered
                frame.wait_for_function("() => window.pointmap.hovered === -1", timeout=10_000)
                t0 = time.perf_counter()
                page.mouse.move(*target)
                got = frame.evaluate("() => new Promise(r => { const t0 = performance.now(); (function poll() { "
                                     "const s = window.pointmap; if (s.hovered >= 0 && s.thumb === s.hovered) "
                                     "r([s.hovered, performance.now() - t0]); else if (performance.now() - t0 > 5000) "
                                     "r([s.hovered, -1]); else requestAnimationFrame(poll); })(); })")
                if got[0] != row or got[1] < 0:
                    continue  # another point under the pointer, or its sheet not written: not a sample
                text_ms.append((time.perf_counter() - t0) * 1000 - got[1])
                thumb_ms.append((time.perf_counter() - t0) * 1000)
                fetch_ms.append(frame.evaluate("() => window.pointmap.sheetMs"))
                if len(thumb_ms) == 40:
                    break
            browser.close()
    finally:
        server.stop()
    print(f"hover on {n:,} vectors, {len(thumb_ms)} points each on a sheet not fetched before:")
    print("| mouse move to | median ms | max ms |")
    print("|---|---|---|")
    print(f"| the point's text (baseline) | {statistics.median(text_ms):.0f} | {max(text_ms):.0f} |")
    print(f"| its thumbnail drawn | {statistics.median(thumb_ms):.0f} | {max(thumb_ms):.0f} |")
    print(f"| (in the frame: a sheet's fetch + decode) | {statistics.median(fetch_ms):.0f} | {max(fetch_ms):.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parts", nargs="+", default=["write", "hover"], choices=["write", "hover"])
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--vectors", type=int, default=20_000)
    ap.add_argument("--hover", type=int, default=25_000)
    args = ap.parse_args()
    os.environ["VIZCORE_CACHE_DIR"] = tempfile.mkdtemp(prefix="vizcore-bench-")  # a cold cache, deleted by no one
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}")
    if "write" in args.parts:
        write(args.images, args.vectors)
    if "hover" in args.parts:
        hover(args.hover)


if __name__ == "__main__":
    main()
