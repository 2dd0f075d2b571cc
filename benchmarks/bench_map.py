"""Which map renderer stays fast at 100k and 1M points? Measured side by side inside Streamlit, headless Chromium.

    python benchmarks/bench_map.py --points 100000 1000000 [--renderers pointmap plotly pydeck atlas] [--repeats 5]

Each renderer draws the same N clustered points (20 classes, colour by class) in a tiny Streamlit app served by a
fresh `streamlit run` (so the numbers include Streamlit's own serialisation, as in the real page):
- plotly: `figures.projection_scatter` (WebGL scattergl, what the projector page draws today) in `st.plotly_chart`
  with `on_select` (box / lasso);
- pydeck: deck.gl `ScatterplotLayer` in an `OrthographicView` through `st.pydeck_chart(on_select="rerun",
  selection_mode="multi-object")`;
- pointmap: vizcore's own point map (`figures.point_map` -> `ui.pointmap.draw`, what the projector page draws now):
  binary buffers in a Streamlit component, points drawn on the CPU, hover text up to 200k points as the page;
- atlas: Apple's Embedding Atlas Streamlit component (`embedding_atlas.streamlit.embedding_atlas`), when importable
  (installed here with `pip install --target /tmp/atlas --no-deps embedding-atlas duckdb`; pass `--atlas-path`).

Measured: load to first drawn frame (navigation until the renderer's canvas exists and two animation frames
passed), the same for a second visit (a new tab on the same server: imports done), and the median of `--repeats`
zooms (a wheel step over the map; for plotly until the new axis range is drawn) to the next frame. Chromium runs with
`--disable-gpu` (software WebGL), as on this machine and CI.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

APP = '''
import os, sys
import numpy as np
import streamlit as st
sys.path.insert(0, {root!r})
st.set_page_config(layout="wide")
n, renderer = int(os.environ["BENCH_N"]), os.environ["BENCH_RENDERER"]
rng = np.random.default_rng(0)
labels = rng.integers(0, 20, n)
xy = rng.standard_normal((20, 2)).astype(np.float32)[labels] * 6 + rng.standard_normal((n, 2), np.float32)
if renderer == "plotly":
    from vizcore import figures
    fig = figures.projection_scatter(xy, title=f"{{n:,}} points", categories=labels,
                                     category_names=[f"class {{k}}" for k in range(20)],
                                     hover=None if n > 200_000 else [f"row {{i}}" for i in range(n)])
    st.plotly_chart(fig, key="map", on_select="rerun", selection_mode=("points", "box", "lasso"),
                    config={{"scrollZoom": True}})  # as the projector page: the wheel zooms, a drag selects
elif renderer == "pointmap":
    from vizcore.figures.pointmap import point_map
    from vizcore.ui import pointmap
    pm = point_map(xy, title=f"{{n:,}} points", categories=labels, category_names=[f"class {{k}}" for k in range(20)],
                   hover=None if n > 200_000 else [f"row {{i}}" for i in range(n)])
    pointmap.draw(pm, key="map", map_id="bench")
elif renderer == "pydeck":
    import pandas as pd
    import pydeck as pdk
    from vizcore.figures.projector import SAFE
    rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in SAFE * 2])[labels]
    df = pd.DataFrame({{"x": xy[:, 0], "y": xy[:, 1], "r": rgb[:, 0], "g": rgb[:, 1], "b": rgb[:, 2],
                       "row": np.arange(n)}})
    layer = pdk.Layer("ScatterplotLayer", df, id="points", get_position=["x", "y"], get_fill_color=["r", "g", "b"],
                      get_radius=2, radius_units="pixels", pickable=True)
    view = pdk.View(type="OrthographicView", controller=True)
    st.pydeck_chart(pdk.Deck(layers=[layer], views=[view], initial_view_state=pdk.ViewState(target=[0, 0, 0], zoom=3),
                             map_provider=None), key="map", on_select="rerun", selection_mode="multi-object",
                    height=640)
else:
    import pandas as pd
    from embedding_atlas.streamlit import embedding_atlas
    df = pd.DataFrame({{"x": xy[:, 0], "y": xy[:, 1], "label": [f"class {{k}}" for k in labels]}})
    embedding_atlas(df, x="x", y="y", text="label", labels="disabled")
'''

NEXT_FRAME = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"
# plotly only: a wheel step over the plot area, timed until plotly's relayout (the new axis range) has been drawn;
# resolves to [seconds, whether the x range changed]. Plotly's wheel zoom needs config scrollZoom (off by default
# for 2-D axes: an earlier version of this benchmark timed wheel events that zoomed nothing).
PLOTLY_WHEEL = """dy => new Promise(resolve => {
    const gd = document.querySelector('.js-plotly-plot'), drag = gd.querySelector('.nsewdrag');
    const before = JSON.stringify(gd._fullLayout.xaxis.range), box = drag.getBoundingClientRect();
    const t0 = performance.now();
    gd.once('plotly_relayout', () => requestAnimationFrame(() => requestAnimationFrame(() =>
        resolve([(performance.now() - t0) / 1e3, JSON.stringify(gd._fullLayout.xaxis.range) !== before]))));
    drag.dispatchEvent(new WheelEvent('wheel', {deltaY: dy, clientX: box.x + box.width / 2,
                                                clientY: box.y + box.height / 2, bubbles: true, cancelable: true}));
})"""
# pointmap: a wheel step over its canvas, timed until the component has drawn the zoomed frame and the browser the
# next animation frame; resolves to [seconds, whether the scale changed].
POINTMAP_WHEEL = """dy => new Promise(resolve => {
    const p = window.pointmap, f0 = p.frames, sx = p.view.sx, canvas = document.querySelector('canvas.points');
    const box = canvas.getBoundingClientRect(), t0 = performance.now();
    canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: dy, clientX: box.x + box.width / 2,
                                                  clientY: box.y + box.height / 2, bubbles: true, cancelable: true}));
    const check = () => p.frames > f0 ? requestAnimationFrame(() => resolve([(performance.now() - t0) / 1e3,
                                                                             p.view.sx !== sx]))
                                      : requestAnimationFrame(check);
    requestAnimationFrame(check);
})"""
SELECTORS = {"pointmap": 'iframe[title*="pointmap"]',
             "plotly": ".js-plotly-plot .gl-canvas-focus, .js-plotly-plot canvas",
             "pydeck": '[data-testid="stDeckGlJsonChart"] canvas', "atlas": "iframe"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(app: Path, n: int, renderer: str, atlas_path: str | None) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {**os.environ, "BENCH_N": str(n), "BENCH_RENDERER": renderer}
    if atlas_path:
        env["PYTHONPATH"] = atlas_path + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false",
                             "--server.maxMessageSize", "2000"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "_stcore/health", timeout=1)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start")


def _wheel_zooms(frame, script: str, repeats: int, what: str) -> float:
    """Median seconds of `repeats` wheel steps (in and out in turn) timed by `script` in `frame`; fails if one did
    not change `what` (then no zoom was measured)."""
    zooms = []
    for i in range(repeats):
        seconds, moved = frame.evaluate(script, -120 if i % 2 == 0 else 120)
        if not moved:
            raise RuntimeError(f"the wheel did not change {what}: no zoom was measured")
        zooms.append(seconds)
        time.sleep(0.3)
    return statistics.median(zooms)


def _measure(page, url: str, renderer: str, repeats: int) -> dict:
    t = time.perf_counter()
    page.goto(url)
    page.locator(SELECTORS[renderer]).first.wait_for(state="attached", timeout=600_000)
    frame = page
    if renderer == "pointmap":
        inner = page.locator(SELECTORS[renderer]).first.element_handle().content_frame()
        inner.wait_for_function("() => window.pointmap && window.pointmap.frames > 0", timeout=600_000)
        inner.evaluate(NEXT_FRAME)
        first = time.perf_counter() - t
        return {"first": first, "zoom": _wheel_zooms(inner, POINTMAP_WHEEL, repeats, "the map's scale")}
    if renderer == "atlas":  # the component draws inside its iframe
        frame = page.frame_locator("iframe").first
        frame.locator("canvas").first.wait_for(state="attached", timeout=600_000)
    page.evaluate(NEXT_FRAME)
    if renderer == "plotly":
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')._fullLayout", timeout=600_000)
    first = time.perf_counter() - t
    target = (frame.locator("canvas").last if renderer == "atlas" else page.locator(SELECTORS[renderer]).last)
    box = target.bounding_box()
    if renderer == "plotly":
        return {"first": first, "zoom": _wheel_zooms(page, PLOTLY_WHEEL, repeats, "the x range")}
    zooms = []
    for i in range(repeats):
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        t0 = page.evaluate("() => performance.now()")
        page.mouse.wheel(0, -120 if i % 2 == 0 else 120)
        zooms.append((page.evaluate(NEXT_FRAME) - t0) / 1e3)
        time.sleep(0.3)
    return {"first": first, "zoom": statistics.median(zooms)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--renderers", nargs="+", default=["pointmap", "plotly", "pydeck", "atlas"])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--atlas-path", default="/tmp/atlas")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    app = Path(tempfile.mkdtemp(prefix="vizcore-map-")) / "map_app.py"
    app.write_text(APP.format(root=str(ROOT)), encoding="utf-8")
    print("| renderer | points | load to first frame s (fresh server) | second visit s | zoom to next frame s "
          "(median) |\n|---|---|---|---|---|")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for n in args.points:
            for renderer in args.renderers:
                proc, url = _serve(app, n, renderer, args.atlas_path if renderer == "atlas" else None)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                try:
                    r = _measure(page, url, renderer, args.repeats)
                    warm = browser.new_page(viewport={"width": 1400, "height": 900})
                    try:  # a second visit: the server's imports are done, the script and the drawing are not
                        again = _measure(warm, url, renderer, 1)["first"]
                    finally:
                        warm.close()
                    print(f"| {renderer} | {n:,} | {r['first']:.1f} | {again:.1f} | {r['zoom']:.3f} |", flush=True)
                except Exception as err:  # noqa: BLE001 - a renderer that fails is a result too
                    print(f"| {renderer} | {n:,} | failed: {type(err).__name__}: {str(err)[:120]} | | |", flush=True)
                finally:
                    page.screenshot(path=f"/tmp/shots/bench_map_{renderer}_{n}.png")
                    page.close()
                    proc.terminate()
                    proc.wait(timeout=30)
        browser.close()


if __name__ == "__main__":
    main()
