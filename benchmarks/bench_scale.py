"""Maps and neighbours at scale (issue 16 §2): openTSNE vs scikit-learn t-SNE, UMAP seeded vs fast, UMAP of 1M x 128
through the CLI, and neighbour queries at 1M points (exact scan vs pynndescent index + exact re-rank).

    nice python benchmarks/bench_scale.py --part tsne          # 10k: openTSNE vs sklearn; 100k: openTSNE
    nice python benchmarks/bench_scale.py --part umap          # 10k and 100k: seeded vs fast
    nice python benchmarks/bench_scale.py --part umap1m        # `vizcore project` on 1M x 128 (.npy), --fast
    nice python benchmarks/bench_scale.py --part neighbours    # 1M x 128 queries

Data: the seeded Gaussian mixture of `bench_projector.clustered` (20 overlapping clusters). Every fit runs in a
fresh child process; "peak MB" is that child's max RSS. Trustworthiness at k = 10 on a 2,000-point subsample.
Each part prints a Markdown table (appended to RESULTS.md by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_projector import clustered  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(spec: dict) -> dict:
    from vizcore.analysis import projection, scores

    X, _ = clustered(spec["n"], spec["d"])
    if spec["what"] == "sklearn-tsne":  # the path vizcore used before openTSNE
        from sklearn.manifold import TSNE

        t = time.perf_counter()
        Y = TSNE(n_components=2, perplexity=30.0, max_iter=1000, init="pca", random_state=0).fit_transform(X)
        seconds = time.perf_counter() - t
    else:
        if spec["method"] == "umap":  # pay numba's per-process compilation outside the timed fit
            m = projection.EXACT_KNN_MAX + 2000 if spec["n"] > projection.EXACT_KNN_MAX else 3000
            projection.run(X[:m], method="umap", n_epochs=5, mode=spec.get("mode", "seeded"))
        proj = projection.run(X, method=spec["method"], **spec.get("params", {}))
        Y, seconds = proj.coords, proj.seconds
    trust = scores.trustworthiness(X, Y, k=10, max_points=2000).value
    return {"seconds": seconds, "trust": trust, "rss_mb": _rss_mb()}


def _run_child(spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                         cwd=ROOT)
    if out.returncode:
        return {"error": out.stderr[-800:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def part_tsne(sizes=(10_000, 100_000)) -> None:
    print("| t-SNE 2-D, N x 384 | fit s | trustworthiness | peak MB |\n|---|---|---|---|")
    for n in sizes:
        specs = [("openTSNE (vizcore now, FFT, 2 threads)", {"what": "fit", "method": "tsne", "n": n, "d": 384})]
        if n <= 10_000:
            specs.append(("scikit-learn Barnes-Hut (vizcore before)", {"what": "sklearn-tsne", "n": n, "d": 384}))
        for name, spec in specs:
            r = _run_child(spec)
            print(f"| {n:,}: {name} | {r.get('seconds', float('nan')):.1f} | {r.get('trust', float('nan')):.3f} | "
                  f"{r.get('rss_mb', 0):,.0f} |" if "error" not in r else f"| {n:,}: {name} | error {r['error']} |",
                  flush=True)


def part_umap(sizes=(10_000, 100_000)) -> None:
    print("| UMAP 2-D, N x 384 | fit s | trustworthiness | peak MB |\n|---|---|---|---|")
    for n in sizes:
        for mode in ("seeded", "fast"):
            r = _run_child({"what": "fit", "method": "umap", "n": n, "d": 384, "mode": mode,
                            "params": {"mode": mode}})
            print(f"| {n:,}: {mode} | {r.get('seconds', float('nan')):.1f} | {r.get('trust', float('nan')):.3f} | "
                  f"{r.get('rss_mb', 0):,.0f} |" if "error" not in r else f"| {n:,} {mode}: error {r['error']} |",
                  flush=True)


def part_umap1m(n: int = 1_000_000, d: int = 128) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="vizcore-1m-"))
    X, _ = clustered(n, d)
    np.save(tmp / "emb.npy", X)
    del X
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "vizcore", "project", str(tmp / "emb.npy"), "--method",
           "umap", "--fast", "--out", str(tmp / "map.parquet")]
    t = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    rss = [ln for ln in out.stderr.splitlines() if "Maximum resident" in ln]
    print(out.stdout[-600:])
    print(f"| UMAP 2-D of {n:,} x {d} via `vizcore project --method umap --fast` | wall {wall:.0f} s | "
          f"{rss[0].split(':')[-1].strip() if rss else '?'} kB max RSS | exit {out.returncode} |")
    if out.returncode:
        print(out.stderr[-1500:])


def part_neighbours(n: int = 1_000_000, d: int = 128, queries: int = 20) -> None:
    from vizcore.analysis.neighbors import NeighborIndex

    X, _ = clustered(n, d)
    rng = np.random.default_rng(1)
    rows = rng.choice(n, queries, replace=False)
    print("| neighbours of a clicked point, 1M x 128, k = 10 | build s | median query ms | agrees with exact |")
    print("|---|---|---|---|")
    for metric in ("cosine", "euclidean"):
        t = time.perf_counter()
        exact = NeighborIndex(X, metric)
        build = time.perf_counter() - t
        ref, times = [], []
        for i in rows:
            t = time.perf_counter()
            ref.append(exact.query(int(i), 10))
            times.append(time.perf_counter() - t)
        print(f"| {metric}: exact float32 scan + float64 re-rank | {build:.1f} | {1e3 * np.median(times):.0f} | "
              "(reference) |", flush=True)
        t = time.perf_counter()
        approx = NeighborIndex(X, metric, approximate=True)
        build = time.perf_counter() - t
        times, same = [], 0
        for i, (ridx, _) in zip(rows, ref):
            t = time.perf_counter()
            idx, _ = approx.query(int(i), 10)
            times.append(time.perf_counter() - t)
            same += len(set(idx) & set(ridx))
        print(f"| {metric}: pynndescent NN-descent index + exact re-rank | {build:.1f} | "
              f"{1e3 * np.median(times):.1f} | recall@10 {same / (10 * queries):.3f} |", flush=True)
        del approx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["tsne", "umap", "umap1m", "neighbours"], required=False)
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--child", default=None)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    os.environ.setdefault("PYTHONHASHSEED", "0")
    {"tsne": lambda: part_tsne(args.sizes), "umap": lambda: part_umap(args.sizes), "umap1m": part_umap1m,
     "neighbours": part_neighbours}[args.part]()


if __name__ == "__main__":
    main()
