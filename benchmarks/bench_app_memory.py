"""Peak memory of the app's large-zip path (issue 16 §4): N images uploaded to the Embedding projector, embedded
in batches into the Parquet store, mapped; then a second session and a restarted server reuse the store.

    nice -n 19 python benchmarks/bench_app_memory.py --images 2000      # quick (<= 10,000: the in-memory path)
    nice -n 19 python benchmarks/bench_app_memory.py --images 100000    # the streamed path at its limit

What runs: the zip of N seeded 48 x 48 PNGs (`bench_embed.make_images`, 10 labelled sub-folders; built once and
kept in --workdir) is uploaded in headless Chromium (Playwright) to a real `streamlit run app.py` (the browser
tests' `Server`): Embedding projector -> Data set "Upload a zip of images…" -> *Large zip* on -> the zip. The page
starts embedding with its default source (Raw pixels) at once; the bench then picks --source (the bundled tiny
ViT) in the sidebar, which interrupts that run, and waits until the map (a plotly figure titled with the source,
with N points) is drawn, logging the progress text meanwhile. The server gets its own VIZCORE_CACHE_DIR (emptied
at the start, so the first embedding is real) and, when the zip is larger than `.streamlit/config.toml`'s
server.maxUploadSize (50 MB), a larger limit through STREAMLIT_SERVER_MAX_UPLOAD_SIZE (this server only).

Measured: the RSS of the server process and its children (psutil, every 0.5 s, the whole run; also the kernel's
high-water mark VmHWM), the RSS just before the upload (libraries loaded, the page's default digits map drawn),
the embed wall time (source picked -> map drawn) and images/s; then the same upload in a new browser context on
the same server (in-process cache) and in a new context on a restarted server (the Parquet store on disk), with
their time to the map and a check that no shard of the store was rewritten. The 1-minute load average is sampled
with the RSS. The RSS curve goes to <workdir>/rss_<N>.csv as it is sampled and progress to stdout, so a run cut
short still leaves its curve and how many images were done.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import re
import shutil
import signal
import sys
import threading
import time
import zipfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_embed import make_images  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Server, wait_idle  # noqa: E402

CONFIG_UPLOAD_MB = 50  # server.maxUploadSize in .streamlit/config.toml (read below; this is the fallback)
# Every plotly figure on the page: [title, points in its scatter traces].
FIGURES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => {
    const lay = el._fullLayout || {}; const t = lay.title ? (lay.title.text || '') : '';
    const n = (el._fullData || []).filter(d => d.visible !== false && String(d.type).startsWith('scatter'))
        .reduce((a, d) => a + (d._length || (d.x && d.x.length) || 0), 0);
    return [String(t), n]; })"""
PROGRESS = """() => [...document.querySelectorAll('[data-testid="stProgress"]')].map(e => e.innerText.trim())
    .filter(Boolean).join(' | ')"""
POINTMAP = """() => window.pointmap && window.pointmap.frames > 0 && window.pointmap.state
    ? [String(window.pointmap.state.args.title || ''), window.pointmap.n] : null"""
RUNNING = "() => !!document.querySelector('[data-testid=\"stStatusWidget\"]')"


# ---- the zip ------------------------------------------------------------------------------------------------------

def build_zip(n: int, workdir: Path) -> Path:
    """images_<n>.zip of `make_images(n)` (stored: PNGs do not compress), built once and reused."""
    out = workdir / f"images_{n}.zip"
    if out.is_file():
        return out
    folder = workdir / f"images_{n}"
    shutil.rmtree(folder, ignore_errors=True)
    t = time.perf_counter()
    make_images(folder, n)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(folder.rglob("*.png")):
            zf.write(p, f"images/{p.relative_to(folder).as_posix()}")
    os.replace(tmp, out)
    shutil.rmtree(folder, ignore_errors=True)
    print(f"built {out.name}: {n:,} images, {out.stat().st_size / 2**20:.0f} MB in {time.perf_counter() - t:.0f} s",
          flush=True)
    return out


def config_upload_mb() -> int:
    m = re.search(r"^maxUploadSize\s*=\s*(\d+)", (ROOT / ".streamlit" / "config.toml").read_text(), re.M)
    return int(m.group(1)) if m else CONFIG_UPLOAD_MB


# ---- the server and its memory ------------------------------------------------------------------------------------

class BenchServer(Server):
    """The browser tests' server, with its output drained by a thread (a long run must not fill the pipe)."""

    def __init__(self, env: dict[str, str | None]) -> None:
        super().__init__(env)
        self.log: list[str] = []
        self._drain = threading.Thread(target=lambda: self.log.extend(iter(self.proc.stdout.readline, "")),
                                       daemon=True)
        self._drain.start()

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except Exception:  # noqa: BLE001  (still running: kill it)
            self.proc.kill()
            self.proc.wait()
        self._drain.join(timeout=5)
        return "".join(self.log)


def tree_rss(pid: int) -> tuple[float, float]:
    """(RSS, sum of VmHWM) in MB of a process and its children (0, 0 once it is gone)."""
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except psutil.Error:
        return 0.0, 0.0
    rss = hwm = 0
    for p in procs:
        try:
            rss += p.memory_info().rss
            with open(f"/proc/{p.pid}/status") as f:
                hwm += next((int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmHWM")), 0)
        except (psutil.Error, OSError):
            pass
    return rss / 2**20, hwm / 2**20


class Sampler(threading.Thread):
    """RSS of the current server every `every` s into `rows` and a CSV (t, phase, rss_mb, hwm_mb, load1, done)."""

    def __init__(self, path: Path, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.every, self.t0, self.rows = every, time.perf_counter(), []
        self.shots = path.parent  # the last screenshot of each visit, for a run that hangs
        self.pid: int | None = None
        self.phase, self.done = "start", ""
        self._halt = threading.Event()
        self._f = path.open("w", newline="")
        self._w = csv.writer(self._f)
        self._w.writerow(["t_s", "phase", "rss_mb", "hwm_mb", "load1", "progress"])

    def run(self) -> None:
        while not self._halt.is_set():
            if self.pid is not None:
                rss, hwm = tree_rss(self.pid)
                row = (time.perf_counter() - self.t0, self.phase, rss, hwm, os.getloadavg()[0], self.done)
                self.rows.append(row)
                self._w.writerow([f"{row[0]:.1f}", row[1], f"{rss:.0f}", f"{hwm:.0f}", f"{row[4]:.2f}", row[5]])
                self._f.flush()
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()
        self._f.close()

    def now(self) -> float:
        return self.rows[-1][2] if self.rows else 0.0

    def peak(self, *phases: str) -> float:
        return max((r[2] for r in self.rows if not phases or r[1] in phases), default=0.0)

    def load(self, *phases: str) -> float:
        xs = [r[4] for r in self.rows if not phases or r[1] in phases]
        return sum(xs) / len(xs) if xs else float("nan")


# ---- one visit ----------------------------------------------------------------------------------------------------

def _choose(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()


def _maps(page) -> list[tuple[str, int]]:
    """(title, points) of every map on the page: point maps (component frames) and plotly scatters (3-D maps)."""
    found = []
    for frame in page.frames:
        try:
            got = frame.evaluate(FIGURES if frame is page.main_frame else POINTMAP)
        except Exception:  # noqa: BLE001  (the page or a frame is re-rendering)
            continue
        found += [tuple(x) for x in got] if frame is page.main_frame else [tuple(got)] if got else []
    return found


def visit(browser, server: BenchServer, sampler: Sampler, zip_path: Path, n: int, source: str, tag: str,
          deadline: float) -> dict:
    """One browser context: the projector, the large-zip upload, --source picked, until its N-point map is drawn."""
    out: dict = {"tag": tag}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        sampler.phase = f"{tag}:page"
        page.goto(server.url("projector"), timeout=600_000)
        wait_idle(page, timeout=600_000)
        page.locator('iframe[title*="pointmap"]').first.wait_for(timeout=600_000)  # the digits' map
        wait_idle(page, timeout=600_000)
        _choose(page, "Data set", "Upload a zip of images…")
        wait_idle(page)
        page.get_by_text("Large zip: embed in batches on disk").first.click()
        wait_idle(page)
        time.sleep(2)
        out["baseline_mb"] = sampler.now()
        sampler.phase = f"{tag}:upload"
        t0 = time.perf_counter()
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(zip_path))
        # The source picker appears once the zip is on the server's disk and counted (nothing is embedded until
        # the user presses Embed for a source not stored yet).
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Embedding source").first.wait_for(
            timeout=max(1.0, deadline - time.time()) * 1000)
        out["upload_s"] = time.perf_counter() - t0
        out["streamed_note"] = page.locator('[data-testid="stAlert"]').filter(has_text="embedded in batches").count()
        sampler.phase = f"{tag}:embed"
        t1 = time.perf_counter()
        _choose(page, "Embedding source", source)
        go = page.get_by_role("button", name=re.compile(r"^Embed the [\d,]+ images with"))
        last_log, seen_progress = 0.0, ""
        while True:
            if go.count() and not page.evaluate(RUNNING):  # a source not stored yet waits for the user's go
                go.first.click()
            maps = _maps(page)
            if any(source in title and pts == n for title, pts in maps):
                break
            if time.time() > deadline:
                out["cut_off"] = True
                break
            try:
                prog = page.evaluate(PROGRESS)
            except Exception:  # noqa: BLE001
                prog = ""
            if prog:
                seen_progress = prog
                sampler.done = prog
            exc = page.locator('[data-testid="stException"], [data-testid="stAlert"]').filter(
                has_text=re.compile("rror|annot|failed", re.I))
            if exc.count():
                out["error"] = exc.first.inner_text()[:500]
                break
            if time.perf_counter() - last_log > 30:
                last_log = time.perf_counter()
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(sampler.shots / f"{tag.replace(' ', '_')}.png"), timeout=30_000)
                print(f"  [{tag}] {time.perf_counter() - t1:7.0f} s  RSS {sampler.now():7,.0f} MB  load "
                      f"{os.getloadavg()[0]:.1f}  {prog or '(no progress bar)'}  maps={maps}", flush=True)
            time.sleep(1.0)
        out["embed_s"] = time.perf_counter() - t1
        out["to_map_s"] = time.perf_counter() - t0
        out["last_progress"] = seen_progress
        out["progress_seen"] = bool(seen_progress)
        # The scores beside the map (kNN, trustworthiness) run after it is drawn: wait for the run to end too.
        sampler.phase = f"{tag}:scores"
        if "error" not in out and not out.get("cut_off"):
            t2 = time.perf_counter()
            try:
                page.wait_for_function(f"() => !({RUNNING})()", timeout=max(1.0, deadline - time.time()) * 1000)
                out["scores_s"] = time.perf_counter() - t2
            except Exception:  # noqa: BLE001
                out["scores_s"] = None
        out["exceptions"] = page.locator('[data-testid="stException"]').count()
    except Exception as e:  # noqa: BLE001  (a timeout under load: report what was measured so far)
        out["error"] = f"{type(e).__name__} in phase {sampler.phase}: {str(e).splitlines()[0][:200]}"
        out["last_progress"] = sampler.done
        with contextlib.suppress(Exception):
            page.screenshot(path=str(sampler.shots / f"{tag.replace(' ', '_')}_error.png"), timeout=60_000)
    finally:
        out["page_errors"] = errors
        context.close()
        sampler.phase = f"{tag}:idle"
    return out


def shards(cache_dir: Path) -> dict[str, int]:
    return {str(p.relative_to(cache_dir)): p.stat().st_mtime_ns
            for p in (cache_dir / "embeddings").rglob("*.parquet")}


# ---- main ---------------------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/vizcore-bench-app-memory"))
    ap.add_argument("--source", default="Tiny ViT (shapes in clutter)", help="the Embedding source option to pick")
    ap.add_argument("--deadline", default="", help="HH:MM (local time): stop waiting then and report the partial")
    ap.add_argument("--no-reuse", action="store_true", help="skip the second session and the restarted server")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill` still stops the server and Chromium
    n = args.images
    args.workdir.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + 24 * 3600
    if args.deadline:
        hh, mm = map(int, args.deadline.split(":"))
        lt = time.localtime()
        deadline = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, hh, mm, 0, 0, 0, -1))
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing")

    zip_path = build_zip(n, args.workdir)
    zip_mb = zip_path.stat().st_size / 2**20
    limit = config_upload_mb()
    cache_dir = args.workdir / f"cache_{n}"
    shutil.rmtree(cache_dir, ignore_errors=True)
    env: dict[str, str | None] = {"VIZCORE_CACHE_DIR": str(cache_dir)}
    if zip_mb > limit:
        env["STREAMLIT_SERVER_MAX_UPLOAD_SIZE"] = str(math.ceil(zip_mb) + 10)
        print(f"the zip ({zip_mb:,.1f} MB) is above server.maxUploadSize = {limit} MB: this bench's server gets "
              f"STREAMLIT_SERVER_MAX_UPLOAD_SIZE={env['STREAMLIT_SERVER_MAX_UPLOAD_SIZE']}", flush=True)
    print(f"{n:,} images, zip {zip_mb:,.1f} MB, load average {os.getloadavg()}", flush=True)

    from playwright.sync_api import sync_playwright

    sampler = Sampler(args.workdir / f"rss_{n}.csv")
    sampler.start()
    results, logs = [], []
    server = None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                t = time.perf_counter()
                server = BenchServer(env)
                sampler.pid = server.proc.pid
                print(f"server up in {time.perf_counter() - t:.1f} s (pid {server.proc.pid})", flush=True)
                r = visit(browser, server, sampler, zip_path, n, args.source, "first", deadline)
                r["peak_mb"] = sampler.peak("first:upload", "first:embed")
                r["peak_all_mb"] = sampler.peak("first:page", "first:upload", "first:embed", "first:scores")
                r["hwm_mb"] = tree_rss(server.proc.pid)[1]
                r["load"] = sampler.load("first:embed")
                results.append(r)
                print(r, flush=True)
                before = shards(cache_dir)
                if not args.no_reuse and not r.get("cut_off") and "error" not in r:
                    r2 = visit(browser, server, sampler, zip_path, n, args.source, "second session", deadline)
                    r2["peak_mb"] = sampler.peak("second session:upload", "second session:embed")
                    r2["load"] = sampler.load("second session:embed")
                    results.append(r2)
                    print(r2, flush=True)
                    logs.append(server.stop())
                    server = BenchServer(env)  # a new process: only the Parquet store on disk is left
                    sampler.pid = server.proc.pid
                    r3 = visit(browser, server, sampler, zip_path, n, args.source, "restarted server", deadline)
                    r3["peak_mb"] = sampler.peak("restarted server:page", "restarted server:upload",
                                                 "restarted server:embed")
                    r3["load"] = sampler.load("restarted server:embed")
                    results.append(r3)
                    print(r3, flush=True)
                    after = shards(cache_dir)
                    vit_before = {k for k in before}
                    rewritten = [k for k in vit_before if after.get(k) != before[k]]
                    new = [k for k in after if k not in before]
                    print(f"store: {len(before)} Parquet files after the first visit; rewritten since: "
                          f"{len(rewritten)} {rewritten[:4]}; new: {len(new)} {new[:4]}", flush=True)
                    for x in (r2, r3):
                        x["rewritten"] = len(rewritten)
            finally:
                browser.close()
    finally:
        if server is not None:
            logs.append(server.stop())
        sampler.stop()
    log = "\n".join(logs)
    tracebacks = log.count("Traceback")
    (args.workdir / f"server_{n}.log").write_text(log)
    report(n, results, sampler, args, tracebacks)


def report(n: int, results: list[dict], sampler: Sampler, args, tracebacks: int) -> None:
    print(f"\nRSS curve: {args.workdir / f'rss_{n}.csv'} ({len(sampler.rows):,} samples); server tracebacks: "
          f"{tracebacks}\n")
    print("| run | images | peak RSS MB (sampled) | server VmHWM MB | RSS before upload MB | upload s | "
          "embed wall s (source picked -> map) | images/s | upload -> map s | load avg (1 min) | note |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        ips = n / r["embed_s"] if r.get("embed_s") and r["tag"] == "first" and not r.get("cut_off") else None
        note = "; ".join(filter(None, [
            "CUT OFF: " + r.get("last_progress", "") if r.get("cut_off") else "",
            "error: " + r["error"] if r.get("error") else "",
            f"scores beside the map {r['scores_s']:.0f} s more" if r.get("scores_s") else "",
            f"Parquet files rewritten: {r['rewritten']}" if "rewritten" in r else "",
            f"page errors {len(r['page_errors'])}" if r.get("page_errors") else "",
            f"{r['exceptions']} exception(s) on the page" if r.get("exceptions") else "",
            "no progress bar seen" if r["tag"] == "first" and not r.get("progress_seen") else ""]))
        print(f"| {r['tag']} | {n:,} | {r.get('peak_mb', 0):,.0f} | "
              f"{r['hwm_mb']:,.0f} | " if "hwm_mb" in r else f"| {r['tag']} | {n:,} | {r.get('peak_mb', 0):,.0f} | | ",
              end="")
        print(f"{r.get('baseline_mb', 0):,.0f} | {r.get('upload_s', float('nan')):.0f} | "
              f"{r.get('embed_s', float('nan')):,.0f} | {f'{ips:.1f}' if ips else ''} | "
              f"{r.get('to_map_s', float('nan')):,.0f} | {r.get('load', float('nan')):.1f} | {note} |")


if __name__ == "__main__":
    main()
