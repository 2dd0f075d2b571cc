"""Is the projector's WebGL scatter responsive at 100k points? Measured in headless Debian Chromium.

    python benchmarks/bench_scatter.py [--points 100000] [--repeats 10]

The page's own figure function (`figures.projection_scatter`, Scattergl, float32 arrays, 20 categories with
hover text) draws N clustered points into a standalone HTML file (plotly.js inlined: no network). Measured:
time to the first drawn frame, and the median time of a zoom (relayout) and of a hover at a point, each to the
next painted frame. The app caps uploads at 10,000 images; this checks the figure itself has headroom.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

NEXT_FRAME = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def _figure_html(n: int) -> str:
    from vizcore import figures

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 20, n)
    xy = rng.standard_normal((20, 2)).astype(np.float32)[labels] * 6 + rng.standard_normal((n, 2), np.float32)
    fig = figures.projection_scatter(xy, title=f"{n:,} points", categories=labels,
                                     category_names=[f"class {k}" for k in range(20)],
                                     hover=[f"row {i}" for i in range(n)], axis_titles=("x", "y"))
    return fig.to_html(include_plotlyjs=True, full_html=True, div_id="map")


def rows(points: int = 100_000, repeats: int = 10) -> list[dict]:
    from playwright.sync_api import sync_playwright

    html = Path(tempfile.mkdtemp(prefix="vizcore-scatter-")) / "scatter.html"
    html.write_text(_figure_html(points), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        t = time.perf_counter()
        page.goto(html.as_uri())
        page.wait_for_function("() => document.querySelector('#map') && document.querySelector('#map')._fullLayout")
        page.evaluate(NEXT_FRAME)
        first = time.perf_counter() - t
        zooms, hovers = [], []
        for i in range(repeats):
            half = 30 - 2 * i
            t0 = page.evaluate("() => performance.now()")
            t1 = page.evaluate(f"async () => {{ await Plotly.relayout('map', {{'xaxis.range': [-{half}, {half}], "
                               f"'yaxis.range': [-{half}, {half}]}}); return await ({NEXT_FRAME})(); }}")
            zooms.append((t1 - t0) / 1e3)
            box = page.locator("#map .nsewdrag").first.bounding_box()
            t0 = page.evaluate("() => performance.now()")
            page.mouse.move(box["x"] + box["width"] * (0.3 + 0.04 * i), box["y"] + box["height"] * 0.5)
            hovers.append((page.evaluate(NEXT_FRAME) - t0) / 1e3)
        browser.close()
    return [{"measurement": f"{points:,}-point scatter: load to first frame", "median_s": first, "n": 1},
            {"measurement": f"{points:,}-point scatter: zoom to next frame", "median_s": statistics.median(zooms),
             "n": repeats},
            {"measurement": f"{points:,}-point scatter: hover to next frame", "median_s": statistics.median(hovers),
             "n": repeats}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    print("| measurement | median s | n |")
    print("|---|---|---|")
    for r in rows(args.points, args.repeats):
        print(f"| {r['measurement']} | {r['median_s']:.3f} | {r['n']} |")


if __name__ == "__main__":
    main()
