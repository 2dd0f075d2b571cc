"""Embedding-projector speed: PCA / t-SNE / UMAP at 10k and 100k points, TSV export vs np.savetxt, peak memory.

    python benchmarks/bench_projector.py            # 10k and 100k points (minutes; run on an idle machine)
    python benchmarks/bench_projector.py --quick    # 2k points, 10k-row TSV: checks the script works (~2 min)
    python benchmarks/bench_projector.py --sizes 10000   # only the 10k part (e.g. on a busy machine)

Data: a seeded Gaussian mixture of 20 components in 384-d (768-d for the TSV), centres drawn with std 0.3
around unit-variance clusters, so the clusters overlap and the k-NN graph is connected like real embeddings.
Every projection runs in a fresh child process (`--child`): its time is the fit alone, after a small
warm-up fit that pays numba's per-process compilation (reported separately as "warm-up"), and its peak
memory is the child's max RSS (data, libraries and the fit). t-SNE at 100k is only run when the 10k time
extrapolates (N log N) to under `TSNE_BUDGET_S`. The other benchmarks import `rows(quick)`.
Goals: UMAP 10k x 384 < 45 s warm, 100k x 384 < 3 min; TSV export >= 5x faster than np.savetxt.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np

TSNE_BUDGET_S = 300.0


def clustered(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian mixture: X (n, d) float32, labels (n,) in 0..19."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((20, d)).astype(np.float32) * 0.3
    labels = rng.integers(0, 20, n)
    return centres[labels] + rng.standard_normal((n, d), dtype=np.float32), labels


def _child(spec: dict) -> dict:
    """Runs inside the child process: warm-up fit, timed fit, trustworthiness, peak RSS."""
    import sklearn.decomposition  # noqa: F401 - imported before the memory baseline
    import sklearn.manifold  # noqa: F401

    from vizcore.analysis import projection, scores

    X, _ = clustered(spec["n"], spec["d"])
    warm = 0.0
    if spec["method"] == "umap":  # compile the code path the timed fit takes (exact k-NN vs NN-descent)
        nndescent = spec["n"] > projection.EXACT_KNN_MAX
        m = projection.EXACT_KNN_MAX + 2000 if nndescent else min(spec["n"], 5000)
        t = time.perf_counter()
        projection.run(X[:m], method="umap", n_epochs=5)
        warm = time.perf_counter() - t
    base = _max_rss_mb()  # libraries, data and warm-up
    proj = projection.run(X, method=spec["method"])
    rss = _max_rss_mb()
    trust = scores.trustworthiness(X, proj.coords, k=10, max_points=2000).value
    return {"seconds": proj.seconds, "warmup": warm, "rss_mb": rss, "base_mb": base, "trust": trust,
            "params": proj.params}


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _run_child(method: str, n: int, d: int = 384) -> dict:
    spec = json.dumps({"method": method, "n": n, "d": d})
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", spec], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _memory(r: dict) -> str:
    return f"peak RSS {r['rss_mb']:.0f} MB (+{r['rss_mb'] - r['base_mb']:.0f} MB over libraries and data)"


def _projection_rows(sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        for method in ("pca", "umap"):
            r = _run_child(method, n)
            note = f"trustworthiness@10 {r['trust']:.3f}, {_memory(r)}"
            if method == "umap":
                note += f", init {r['params']['init']}; warm-up fit (numba compile) {r['warmup']:.1f} s"
            rows.append({"benchmark": f"{method.upper()} -> 2-D", "n": n, "d": 384, "seconds": r["seconds"],
                         "note": note})
    tsne_first = None
    for n in sizes:
        if tsne_first and tsne_first[1] * (n / tsne_first[0]) * math.log(n) / math.log(tsne_first[0]) > TSNE_BUDGET_S:
            est = tsne_first[1] * (n / tsne_first[0]) * math.log(n) / math.log(tsne_first[0])
            rows.append({"benchmark": "t-SNE -> 2-D", "n": n, "d": 384, "seconds": None,
                         "note": f"skipped (~{est:.0f} s estimated from {tsne_first[0]:,} points, N log N)"})
            continue
        r = _run_child("tsne", n)
        tsne_first = tsne_first or (n, r["seconds"])
        rows.append({"benchmark": "t-SNE -> 2-D", "n": n, "d": 384, "seconds": r["seconds"],
                     "note": f"trustworthiness@10 {r['trust']:.3f}, {_memory(r)}"})
    return rows


def _tsv_rows(n: int, d: int = 768) -> list[dict]:
    from vizcore import export

    X, _ = clustered(n, d, seed=1)
    t = time.perf_counter()
    export.write_vectors_tsv(os.devnull, X[:2])  # load (or compile) the numba kernel
    load = time.perf_counter() - t
    timings = {}
    for name, fn in (("vizcore", lambda f: export.write_vectors_tsv(f, X)),  # to /dev/null: formatting only
                     ("savetxt", lambda f: np.savetxt(f, X, fmt="%.6g", delimiter="\t"))):
        wall, cpu = time.perf_counter(), time.process_time()
        fn(os.devnull)
        timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)
    (vw, vc), (sw, sc) = timings["vizcore"], timings["savetxt"]
    return [
        {"benchmark": "vectors.tsv, vizcore", "n": n, "d": d, "seconds": vw,
         "note": f"cpu {vc:.2f} s; kernel load {load:.2f} s (first call per process)"},
        {"benchmark": "vectors.tsv, np.savetxt %.6g", "n": n, "d": d, "seconds": sw,
         "note": f"cpu {sc:.2f} s; vizcore is {sw / vw:.1f}x faster (wall), {sc / vc:.1f}x (cpu)"},
    ]


def _score_rows(n: int) -> list[dict]:
    from vizcore.analysis import scores

    X, y = clustered(n, 384, seed=2)
    rows = []
    for name, fn in (("knn_accuracy (k=20, cosine)", lambda: scores.knn_accuracy(X, y)),
                     ("linear_probe_accuracy", lambda: scores.linear_probe_accuracy(X, y))):
        t = time.perf_counter()
        score = fn()
        rows.append({"benchmark": name, "n": n, "d": 384, "seconds": time.perf_counter() - t,
                     "note": f"accuracy {score.value:.3f} (chance {score.chance:.3f})"})
    return rows


def rows(quick: bool, sizes: list[int] | None = None) -> list[dict]:
    """All measurements as dicts: benchmark, n, d, seconds (None = skipped), note.

    quick: 2k points and a 10k-row TSV. Otherwise `sizes` (default 10k and 100k) and a TSV of max(sizes) rows.
    """
    sizes = [2_000] if quick else sorted(sizes or [10_000, 100_000])
    return _projection_rows(sizes) + _tsv_rows(10_000 if quick else sizes[-1]) + _score_rows(sizes[0])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(json.loads(sys.argv[2]))))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2k points and a 10k-row TSV: a smoke run")
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated point counts (default 10000,100000)")
    args = ap.parse_args()
    before = os.getloadavg()[0]
    table = rows(args.quick, [int(n) for n in args.sizes.split(",")])
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {before:.1f} before / {os.getloadavg()[0]:.1f} after; python {platform.python_version()}")
    print("| benchmark | N | D | seconds | note |")
    print("|---|---|---|---|---|")
    for r in table:
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.1f}"
        print(f"| {r['benchmark']} | {r['n']:,} | {r['d']} | {secs} | {r['note']} |")


if __name__ == "__main__":
    main()
