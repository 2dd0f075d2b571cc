"""Every vizcore benchmark in one run, printed as one table of ratios measured side by side.

    python benchmarks/run_all.py            # the full suite (about 20-30 minutes on 2 cores; run on an idle machine)
    python benchmarks/run_all.py --quick    # small sizes: checks every benchmark runs (a few minutes)

Rows: attention capture vs the plain fused forward; embedding extraction vs a bare batched forward loop; PCA /
UMAP / t-SNE at 10k and 100k points; TSV export vs np.savetxt; peak memory of a 100k-point projection; browser
latency from a VAE slider move to the new frame (median of 20); app cold start to the first page drawn; a
100k-point WebGL scatter's zoom and hover response. Each
goal from the issues is printed beside its measurement. Record results in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_attention  # noqa: E402
import bench_browser  # noqa: E402
import bench_embeddings  # noqa: E402
import bench_projector  # noqa: E402
import bench_scatter  # noqa: E402


def _row(name: str, value: str, baseline: str = "", ratio: float | None = None, goal: str = "",
         met: bool | None = None) -> dict:
    return {"benchmark": name, "measured": value, "baseline": baseline,
            "ratio": "" if ratio is None else f"{ratio:.2f}", "goal": goal,
            "met": "" if met is None else ("yes" if met else "**no**")}


def attention_rows(quick: bool) -> list[dict]:
    fused, capture = bench_attention.rows(repeats=5 if quick else 20)
    r = capture["ms"] / fused["ms"]
    return [_row("attention.capture vs fused forward, ViT-B/16 224 px", f"{capture['ms']:.0f} ms",
                 f"{fused['ms']:.0f} ms", r, "<= 1.3", r <= 1.3)]


def embedding_rows(quick: bool) -> list[dict]:
    out = []
    for r in bench_embeddings.rows(quick):
        name = f"embeddings.compute vs bare loop, {r['model']}, {r['setting']}, {r['images']:,} images"
        out.append(_row(name, f"{r['compute_ms']:.0f} ms (CPU {r['compute_cpu_ms']:.0f})",
                        f"{r['bare_ms']:.0f} ms (CPU {r['bare_cpu_ms']:.0f})", r["ratio"], "<= 1.1 (CPU time)",
                        r["cpu_ratio"] <= 1.1))
    return out


def projector_rows(quick: bool) -> list[dict]:
    goals = {("UMAP -> 2-D", 10_000): 45.0, ("UMAP -> 2-D", 100_000): 180.0}
    rows, savetxt = [], None
    for r in bench_projector.rows(quick):
        secs = r["seconds"]
        if r["benchmark"].startswith("vectors.tsv, np.savetxt"):
            savetxt = secs
            continue
        goal = goals.get((r["benchmark"], r["n"]))
        name = f"{r['benchmark']}, {r['n']:,} x {r['d']}"
        value = "skipped" if secs is None else f"{secs:.1f} s"
        rows.append(_row(name, value, goal=f"< {goal:.0f} s" if goal else "", met=None if goal is None or secs is None
                         else secs < goal) | {"note": r["note"]})
    tsv = next(r for r in rows if r["benchmark"].startswith("vectors.tsv, vizcore"))
    vizcore_s = float(tsv["measured"].split()[0])
    tsv.update(baseline=f"{savetxt:.1f} s (np.savetxt)", ratio=f"{vizcore_s / savetxt:.2f}", goal="<= 0.2",
               met="yes" if vizcore_s / savetxt <= 0.2 else "**no**")
    return rows


def browser_rows(quick: bool) -> list[dict]:
    out = []
    for r in bench_browser.rows(repeats=2 if quick else 5, moves=3 if quick else 10):
        goal, base = r["goal_s"], r["baseline_s"]
        out.append(_row(f"browser: {r['measurement']} (median of {r['n']})", f"{r['median_s']:.2f} s",
                        "" if base is None else f"{base:.2f} s", None if base is None else r["median_s"] / base,
                        "" if goal is None else f"<= {goal:.2f} s", None if goal is None else r["median_s"] <= goal))
    for r in bench_scatter.rows(points=20_000 if quick else 100_000, repeats=3 if quick else 10):
        goal = 0.1 if "to next frame" in r["measurement"] else None  # "stays responsive": a frame within 100 ms
        out.append(_row(f"browser: {r['measurement']} (median of {r['n']})", f"{r['median_s']:.3f} s",
                        goal="< 0.1 s" if goal else "", met=None if goal is None else r["median_s"] < goal))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: attention,embeddings,projector,browser")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    start, load = time.perf_counter(), os.getloadavg()[0]
    parts = {"attention": attention_rows, "embeddings": embedding_rows, "projector": projector_rows,
             "browser": browser_rows}
    rows = [row for name, fn in parts.items() if name not in skip for row in fn(args.quick)]
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; load average "
          f"{load:.1f} at start, {os.getloadavg()[0]:.1f} at end; {time.perf_counter() - start:.0f} s in all"
          f"{' (--quick)' if args.quick else ''}")
    print("| benchmark | measured | baseline | ratio | goal | met | note |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['benchmark']} | {r['measured']} | {r['baseline']} | {r['ratio']} | {r['goal']} | {r['met']} | "
              f"{r.get('note', '')} |")


if __name__ == "__main__":
    main()
