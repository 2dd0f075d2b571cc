"""Browser and command-line latencies on bundled models, each waiting for the actual new picture.

    python benchmarks/bench_browser.py [--repeats 5] [--moves 10] [--rows start,cli]

`--rows` picks groups of rows (default: all): start (server start to Home, with the trivial app), cold (server start
to Attention's maps through Home and by deep link, and to the projector's map by deep link), visits (first visit of
each page), attention (tab switch, layer slider, upload), mae, vae (sliders), cli (command wall times).

Rows (medians; headless Debian Chromium, software WebGL):
- server start to Home interactive, against a trivial one-slider Streamlit app started the same way (ratio);
- server start to the Attention page's maps (Home first, then a click; or a deep link as the first page) and to the
  Embedding projector's map drawn (deep link), each on a fresh server;
- first visit of each page on a running server (navigation to the page's first figure or image drawn);
- Attention tab switch to the tab's own figure shown;
- slider to new picture: VAE interpolation t, MAE mask ratio and the Attention per-head layer are flip-books
  (`vizcore.ui.flipbook`: the pictures are switched in the browser): an arrow key on the flip-book's slider until
  its last picture has a new `src`, decoded and drawn (and its legend, the per-head colour bar, too), and its
  printed value moved (the row fails if the picture never changes); no server is involved;
- upload to every attention view drawn (a fresh image each time, so nothing is cached);
- CLI wall time of `vizcore attention` and `vizcore mae` on the bundled models (new process each time).
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Server, wait_idle  # noqa: E402

RUN_DONE = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
# Flip-books (in shadow roots): the one whose slider is named `label`, and the `src` of its last picture.
FLIP = """label => [...document.querySelectorAll('*')].filter(e => e.shadowRoot)
    .map(h => h.shadowRoot.querySelector('.flip')).filter(Boolean)
    .find(r => r.querySelector('.name').textContent === label)"""
FLIP_SRC = f"""label => {{ const r = ({FLIP})(label); const im = r && r.querySelector('.panels .panel:last-child img');
    return im ? im.src : null; }}"""
# The flip-book's picture changed from `old`, is decoded and drawn, and the printed value moved with it.
FLIP_CHANGED = f"""([label, old, value]) => {{ const r = ({FLIP})(label); if (!r) return false;
    const im = r.querySelector('.panels .panel:last-child img'), lg = r.querySelector('.legend');
    return im.src !== old && im.complete && im.naturalWidth > 0 && r.querySelector('.value').textContent !== value
        && (!lg || lg.hidden || (lg.complete && lg.naturalWidth > 0));
}}"""
ANY_FLIP = """() => [...document.querySelectorAll('*')].some(e => e.shadowRoot && e.shadowRoot.querySelector(
    '.flip .panels img[src]'))"""
PAUSE_S = 0.3  # between flip-book moves, as a user looking at each picture
# A digest of every plotly figure's data on the page: changes when any drawn figure changes.
PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => {
    const d = el.data || []; return d.map(t => JSON.stringify([t.z && t.z.length, t.source && t.source.length,
        t.source && t.source.slice(-64), t.z && JSON.stringify(t.z).slice(0, 200), t.name])).join('|'); }).join('#')"""
TRIVIAL_APP = """import streamlit as st
st.title("trivial")
st.slider("x", 0, 10, 5)
"""
PAGES = {"attention": "Attention", "posembed": "Position embeddings", "anatomy": "ViT anatomy",
         "vae": "VAE latent space", "autoencoders": "Autoencoders", "mae": "MAE reconstruction",
         "projector": "Embedding projector"}


class AppServer(Server):
    """`streamlit run <script>` like the test server, for the trivial baseline app."""

    def __init__(self, script: Path | None = None) -> None:
        if script is None:
            super().__init__()
            return
        import tests.browser.conftest as c

        root = c.ROOT
        try:
            c.ROOT = script.parent
            (script.parent / "app.py").write_text(script.read_text())
            super().__init__()
        finally:
            c.ROOT = root


def _png(seed: int) -> bytes:
    from vizcore.data.scenes import sample_scenes

    buf = io.BytesIO()
    sample_scenes(seed=seed, n=1)[0][1].save(buf, "PNG")
    return buf.getvalue()


def _interactive(page) -> None:
    page.wait_for_selector('[data-testid="stSlider"], [data-testid="stMarkdown"]', timeout=180_000)
    page.wait_for_function(RUN_DONE, timeout=180_000)


def start_to_interactive(browser, script: Path | None, path: str = "") -> float:
    return _from_start(browser, script, path, _interactive)


def _from_start(browser, script: Path | None, path: str, ready) -> float:
    """Seconds from starting a fresh server (`script`, or vizcore's app) to `ready(page)` returning on `path`."""
    t0 = time.perf_counter()
    server = AppServer(script)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(server.url(path), timeout=180_000)
        ready(page)
        out = time.perf_counter() - t0
        page.close()
    finally:
        server.stop()
    return out


# The projector's point map (a component iframe) has drawn its first frame.
MAP_DRAWN = """() => { const f = document.querySelector('iframe[title*="pointmap"]');
    return !!(f && f.contentWindow && f.contentWindow.pointmap && f.contentWindow.pointmap.frames > 0); }"""


def _drawn(page, before: str | None = None, timeout: float = 180_000) -> None:
    """Wait until the run is over and a figure or image is on the page (different from `before` when given)."""
    page.wait_for_function("() => document.querySelector('.js-plotly-plot, [data-testid=\"stImage\"] img') "
                           f"|| ({ANY_FLIP})() || ({MAP_DRAWN})()", timeout=timeout)
    if before is not None:
        page.wait_for_function(f"old => ({PLOTS})() !== old", arg=before, timeout=timeout)
    page.wait_for_function(RUN_DONE, timeout=timeout)


def start_to_drawn(browser, slug: str, via_home: bool) -> float:
    """A fresh server, then the page `slug` drawn: through Home and a click in the sidebar, or by a deep link."""
    def ready(page) -> None:
        if via_home:
            _interactive(page)
            page.locator('[data-testid="stSidebarNav"]').get_by_text(PAGES[slug], exact=True).click()
            page.wait_for_url(f"**/{slug}", timeout=60_000)
        if slug == "projector":  # the map: a point-map frame drawn (a plotly scatter before the point map existed)
            page.wait_for_function(f"() => ({MAP_DRAWN})() || [...document.querySelectorAll('.js-plotly-plot')]"
                                   ".some(el => (el.data || []).some(t => /scatter/.test(t.type || 'scatter')))",
                                   timeout=180_000)
        _drawn(page)

    return _from_start(browser, None, "" if via_home else slug, ready)


def first_visits(browser, server) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(server.url())
    wait_idle(page)
    out = {}
    for slug, title in PAGES.items():
        t = time.perf_counter()
        page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
        page.wait_for_url(f"**/{slug}", timeout=60_000)
        _drawn(page)
        out[slug] = time.perf_counter() - t
        wait_idle(page)
    page.close()
    return out


# The open tab's own figure, image or flip-book picture is on screen: drawn (plotly laid out / image decoded), visible.
TAB_SHOWN = """name => {
    const tab = [...document.querySelectorAll('[role="tab"]')].find(t => t.textContent.trim() === name);
    if (!tab || tab.getAttribute('aria-selected') !== 'true') return false;
    const panel = document.getElementById(tab.getAttribute('aria-controls'));
    if (!panel || panel.offsetParent === null) return false;
    const books = [...panel.querySelectorAll('*')].filter(e => e.shadowRoot && e.offsetParent !== null)
        .map(h => h.shadowRoot.querySelector('.flip .panels img')).filter(Boolean);  // flip-books' pictures
    return [...panel.querySelectorAll('.js-plotly-plot, [data-testid="stImage"] img'), ...books].some(e =>
        e.offsetParent !== null && (e.tagName === 'IMG' ? e.complete && e.naturalWidth > 0 : !!e._fullLayout));
}"""


def tab_switches(page, repeats: int) -> list[float]:
    """Click the page's tabs in turn (Streamlit draws every tab's body on each run; a switch is in the browser)."""
    tabs = page.get_by_role("tab")
    names = [tabs.nth(k).inner_text().strip() for k in range(tabs.count())]
    out = []
    for i in range(repeats):
        name = names[(i % (len(names) - 1)) + 1 if i % 2 == 0 else 0]
        t = time.perf_counter()
        page.get_by_role("tab", name=name, exact=True).click()
        page.wait_for_function(TAB_SHOWN, arg=name, timeout=60_000)
        out.append(time.perf_counter() - t)
        page.wait_for_function(RUN_DONE, timeout=60_000)
    return out


def flip_moves(page, label: str, moves: int) -> list[float]:
    """Arrow keys on flip-book `label`'s slider; each until its picture has changed and is drawn."""
    page.wait_for_function(f"label => !!({FLIP_SRC})(label)", arg=label, timeout=180_000)
    rng = page.locator(".flip").filter(has=page.locator(".name", has_text=label)).locator("input[type=range]")
    rng.focus()
    at_max = rng.evaluate("e => e.value === e.max")
    keys = ("ArrowLeft", "ArrowRight") if at_max else ("ArrowRight", "ArrowLeft")
    out = []
    for i in range(moves):
        old, value = page.evaluate(FLIP_SRC, label), rng.evaluate("e => e.getAttribute('aria-valuetext')")
        t = time.perf_counter()
        page.keyboard.press(keys[i % 2])
        page.wait_for_function(FLIP_CHANGED, arg=[label, old, value], timeout=10_000)  # else: the picture never changed
        out.append(time.perf_counter() - t)
        time.sleep(PAUSE_S)
        page.wait_for_function(RUN_DONE, timeout=60_000)  # nothing runs: a move never reaches the server
    return out


def uploads(page, repeats: int) -> list[float]:
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


def cli_seconds(args: list[str], repeats: int) -> list[float]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "scene.png"
        image.write_bytes(_png(7))
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "vizcore", *args, str(image), "--out", str(Path(tmp) / "o.png")],
                           check=True, capture_output=True)
            out.append(time.perf_counter() - t)
    return out


GROUPS = ("start", "cold", "visits", "attention", "mae", "vae", "cli")


def rows(repeats: int = 5, moves: int = 10, groups: tuple[str, ...] = GROUPS) -> list[dict]:
    """One row per measurement: {"measurement", "median_s", "n", "goal_s" (or None), "baseline_s"}.

    groups: which rows to measure (see `GROUPS` and the module docstring); the others are skipped.
    """
    med = statistics.median
    out: list[dict] = []

    def row(name, values, goal=None, baseline=None):
        values = values if isinstance(values, list) else [values]
        out.append({"measurement": name, "median_s": med(values), "n": len(values), "goal_s": goal,
                    "baseline_s": baseline})

    if set(groups) - {"cli"}:
        _browser_rows(row, set(groups), repeats, moves)
    if "cli" in groups:
        row("CLI vizcore attention, bundled ViT (wall)", cli_seconds(["attention"], 3), goal=3.0)
        row("CLI vizcore mae, bundled MAE (wall)", cli_seconds(["mae"], 3), goal=3.0)
    return out


def _browser_rows(row, groups: set[str], repeats: int, moves: int) -> None:
    """The browser rows of `groups`, each reported through `row(name, values, goal=, baseline=)`."""
    from playwright.sync_api import sync_playwright

    med = statistics.median
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        if "start" in groups:
            trivial_script = Path(tmp) / "trivial.py"
            trivial_script.write_text(TRIVIAL_APP)
            trivial = [start_to_interactive(browser, trivial_script) for _ in range(3)]
            home = [start_to_interactive(browser, None) for _ in range(3)]
            row("trivial one-slider Streamlit app: server start to interactive", trivial)
            row("server start to Home interactive", home, goal=1.5 * med(trivial), baseline=med(trivial))
        if "cold" in groups:
            n = min(repeats, 3)
            row("server start to Attention's maps, through Home (cold)",
                [start_to_drawn(browser, "attention", via_home=True) for _ in range(n)])
            row("server start to Attention's maps, deep link (first page visited)",
                [start_to_drawn(browser, "attention", via_home=False) for _ in range(n)])
            row("server start to the Embedding projector's map, deep link",
                [start_to_drawn(browser, "projector", via_home=False) for _ in range(n)])
        if not groups & {"visits", "attention", "mae", "vae"}:
            browser.close()
            return
        server = Server()
        try:
            if "visits" in groups:
                for slug, s in first_visits(browser, server).items():
                    row(f"first visit of {PAGES[slug]} (running server)", s, goal=6.0)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            if "attention" in groups:
                page.goto(server.url("attention"))
                _drawn(page)
                wait_idle(page)
                row("Attention tab switch to the tab's figure", tab_switches(page, repeats), goal=0.3)
                page.get_by_role("tab", name="Per head", exact=True).click()
                row("Attention per-head layer slider to new maps (flip-book)", flip_moves(page, "Layer", moves),
                    goal=0.1)
                row("upload to every attention view drawn, bundled ViT", uploads(page, repeats), goal=1.0)
            if "mae" in groups:
                page.goto(server.url("mae"))
                _drawn(page)
                wait_idle(page)
                row("MAE mask-ratio slider to new panels (flip-book)",
                    flip_moves(page, "Mask ratio (fraction of patches hidden)", moves), goal=0.1)
            if "vae" in groups:
                page.goto(server.url("vae"))
                _drawn(page)
                wait_idle(page)
                row("VAE interpolation slider to new decoded frame (flip-book)",
                    flip_moves(page, "t (0 = A, 1 = B)", moves), goal=0.1)
            page.close()
        finally:
            server.stop()
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--rows", default=",".join(GROUPS), help=f"comma-separated groups of {', '.join(GROUPS)}")
    args = ap.parse_args()
    groups = tuple(g.strip() for g in args.rows.split(",") if g.strip())
    if unknown := set(groups) - set(GROUPS):
        ap.error(f"unknown --rows {', '.join(sorted(unknown))}; choose from {', '.join(GROUPS)}")
    print("| measurement | median s | n | goal s | met |")
    print("|---|---|---|---|---|")
    for r in rows(args.repeats, args.moves, groups):
        goal = "" if r["goal_s"] is None else f"{r['goal_s']:.2f}"
        met = "" if r["goal_s"] is None else ("yes" if r["median_s"] <= r["goal_s"] else "**no**")
        print(f"| {r['measurement']} | {r['median_s']:.2f} | {r['n']} | {goal} | {met} |")


if __name__ == "__main__":
    main()
