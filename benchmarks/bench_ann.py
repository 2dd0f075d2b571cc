"""Approximate nearest-neighbour indexes (faiss-cpu, usearch) vs vizcore's exact scan for "neighbours of a clicked
point", cosine, k = 10, 1M x 128 (issue 16 §2: "faiss-cpu or usearch if they measure better").

faiss and usearch are not vizcore dependencies (they measured worse; RESULTS.md): install them beside it first,
e.g. `python -m venv --system-site-packages /tmp/ann-venv && /tmp/ann-venv/bin/pip install faiss-cpu usearch`,
and run this file with that Python. A method whose package is missing is reported as skipped.

Data: benchmarks/bench_projector.clustered(n, 128) (the generator bench_scale --part neighbours uses, seed 0).
Queries: the 20 rows bench_scale uses (default_rng(1).choice(n, 20)) + 180 more (default_rng(2)), 200 in all;
"median query ms" is over all 200 single-row queries, recall is reported on the 20 bench rows and on all 200.
Ground truth: vizcore NeighborIndex(X, "cosine").query(i, 10) (exact, point itself excluded).
ANN query: search the unit-normalised float32 row for C candidates (+1 for the point itself), then the same exact
float64 re-rank vizcore uses for pynndescent candidates (vizcore.analysis.neighbors._rank, self first, dropped).

    python benchmarks/bench_ann.py --n 1000000      # one child process per method; prints a Markdown table
    python benchmarks/bench_ann.py --n 100000       # a quick trial (about 3 min)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_projector import clustered  # noqa: E402  (same generator as bench_scale)

HERE = os.environ.get("VIZCORE_BENCH_ANN_DIR", "/tmp/vizcore-bench-ann")  # ground truth and results
K = 10


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cur_mb() -> float:
    with open("/proc/self/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1]) / 1024
    return float("nan")


def query_rows(n: int) -> np.ndarray:
    a = np.random.default_rng(1).choice(n, 20, replace=False)
    b = np.random.default_rng(2).choice(n, 200, replace=False)
    b = np.array([x for x in b if x not in set(a)])[:180]
    return np.concatenate([a, b]).astype(np.int64)


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def unit32(X: np.ndarray) -> np.ndarray:
    from vizcore.analysis.neighbors import _unit32, row_norms

    return _unit32(X, row_norms(X))


def child(spec: dict) -> dict:
    n = spec["n"]
    X, _ = clustered(n, 128)
    rows = query_rows(n)
    truth_path = f"{HERE}/truth_{n}.npy"
    base_mb = cur_mb()
    out = {"method": spec["method"], "params": spec.get("params", {}), "n": n, "rss_data_mb": base_mb}

    if spec["method"] == "exact":
        from vizcore.analysis.neighbors import NeighborIndex

        t = time.perf_counter()
        ix = NeighborIndex(X, "cosine")
        out["build_s"] = time.perf_counter() - t
        out["rss_after_build_mb"] = cur_mb()
        res, times = [], []
        for i in rows:
            t = time.perf_counter()
            idx, _ = ix.query(int(i), K)
            times.append(time.perf_counter() - t)
            res.append(idx)
        np.save(truth_path, np.array(res))
        out["runs"] = [{"search": "full scan", "median_ms": 1e3 * float(np.median(times)),
                        "median_ms_bench20": 1e3 * float(np.median(times[:20])), "recall_all": 1.0,
                        "recall_bench20": 1.0}]
        out["peak_mb"] = peak_mb()
        return out

    from vizcore.analysis.neighbors import _rank

    package = "faiss" if spec["method"].startswith("faiss") else "usearch"
    if importlib.util.find_spec(package) is None:
        return {**out, "error": f"skipped: {package} is not installed (see the docstring)"}

    truth = np.load(truth_path)
    U = unit32(X)
    p = spec["params"]
    m = spec["method"]
    log("build start", m, p)
    t = time.perf_counter()
    if m == "faiss-hnsw":
        import faiss

        faiss.omp_set_num_threads(2)
        index = faiss.IndexHNSWFlat(128, p["M"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p["efC"]
        index.add(U)
    elif m == "faiss-ivf":
        import faiss

        faiss.omp_set_num_threads(2)
        quant = faiss.IndexFlatIP(128)
        index = faiss.IndexIVFFlat(quant, 128, p["nlist"], faiss.METRIC_INNER_PRODUCT)
        sample = U[np.random.default_rng(0).choice(n, min(n, p["train"]), replace=False)]
        index.train(sample)
        del sample
        index.add(U)
    elif m == "usearch":
        from usearch.index import Index

        index = Index(ndim=128, metric="ip", dtype=p.get("dtype", "f32"), connectivity=p["conn"],
                      expansion_add=p["expA"])
        index.add(np.arange(n, dtype=np.uint64), U, threads=2)
    else:
        raise ValueError(m)
    out["build_s"] = time.perf_counter() - t
    log("build done", out["build_s"])
    out["peak_build_mb"] = peak_mb()
    # The app keeps X (needed for the exact re-rank) + the index; the normalised copy can go once it is indexed
    # (faiss Flat/HNSW/IVF and usearch f32 store their own copy of the vectors).
    Uq = U[rows].copy()
    del U
    out["rss_after_build_mb"] = cur_mb()

    class _S:  # what _rank needs from a scanner: the metric only
        metric = "cosine"

    scan = _S()
    runs = []
    for ef in spec["search"]:
        for C in spec["cands"]:
            if m == "faiss-hnsw":
                index.hnsw.efSearch = ef
            elif m == "faiss-ivf":
                index.nprobe = ef
            else:
                index.expansion_search = ef
            times, hit, hit_raw = [], [], []
            for j, i in enumerate(rows):
                t = time.perf_counter()
                q = Uq[j : j + 1]
                if m.startswith("faiss"):
                    _, I = index.search(q, C + 1)
                    cand = I[0][I[0] >= 0]
                else:
                    cand = np.asarray(index.search(q[0], C + 1, threads=1).keys, np.int64)
                raw = cand
                cand = np.union1d(cand, [i])
                idx, _ = _rank(X, scan, int(i), cand, K + 1, True)
                idx = idx[1:]
                times.append(time.perf_counter() - t)
                tr = set(truth[j].tolist())
                hit.append(len(set(idx.tolist()) & tr))
                hit_raw.append(len(set(raw[raw != i][:K].tolist()) & tr))
            hit = np.array(hit)
            runs.append({"search": ef, "cands": C, "median_ms": 1e3 * float(np.median(times)),
                         "median_ms_bench20": 1e3 * float(np.median(times[:20])),
                         "recall_all": float(hit.sum() / (K * len(rows))),
                         "recall_bench20": float(hit[:20].sum() / (K * 20)),
                         "recall_raw_top10_all": float(np.sum(hit_raw) / (K * len(rows))),
                         "queries_all10": int((hit == K).sum()), "nq": len(rows)})
            log(runs[-1])
    out["runs"] = runs
    out["peak_mb"] = peak_mb()
    return out


SPECS = [
    {"method": "exact"},
    {"method": "faiss-hnsw", "params": {"M": 32, "efC": 40}, "search": [64, 128, 512, 2048, 4096], "cands": [50]},
    {"method": "faiss-ivf", "params": {"nlist": 4096, "train": 262_144}, "search": [16, 64, 256, 1024],
     "cands": [50]},
    {"method": "faiss-hnsw", "params": {"M": 32, "efC": 100}, "search": [64, 128, 512, 2048, 4096], "cands": [50]},
    {"method": "usearch", "params": {"conn": 16, "expA": 64}, "search": [64, 128, 512, 2048, 4096], "cands": [50]},
    {"method": "usearch", "params": {"conn": 32, "expA": 128}, "search": [64, 128, 512, 2048], "cands": [50]},
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--out", default=f"{HERE}/results.jsonl", help="one JSON line per method (appended)")
    ap.add_argument("--timeout", type=float, default=17 * 60)  # per child: 15 min build + data and queries
    ap.add_argument("--budget", type=float, default=38 * 60)   # start no new child after this many seconds
    ap.add_argument("--only", nargs="*", type=int)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return
    os.makedirs(HERE, exist_ok=True)
    t0, results = time.perf_counter(), []
    for k, spec in enumerate(SPECS):
        if args.only is not None and k not in args.only:
            continue
        el = time.perf_counter() - t0
        if el > args.budget:
            log("budget spent, skipping", spec)
            continue
        spec = dict(spec, n=args.n)
        log("child", spec)
        p = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE,
                             text=True, start_new_session=True)
        try:
            so, _ = p.communicate(timeout=args.timeout)
            r = json.loads(so.strip().splitlines()[-1]) if p.returncode == 0 else {"error": p.returncode}
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            r = {"error": f"killed after {args.timeout:.0f} s (build too slow)"}
        r.setdefault("method", spec["method"])
        r.setdefault("params", spec.get("params", {}))
        r["wall_s"] = time.perf_counter() - t0 - el
        with open(args.out, "a") as f:
            f.write(json.dumps(r) + "\n")
        log("result", json.dumps(r))
        results.append(r)
    table(results)


def table(results: list[dict]) -> None:
    print("| method | parameters | build s | search | median query ms | recall@10 after re-rank | clicks with all 10 "
          "right | peak RSS MB |\n|---|---|---|---|---|---|---|---|")
    for r in results:
        params = ", ".join(f"{k}={v}" for k, v in r.get("params", {}).items()) or "-"
        if "error" in r:
            print(f"| {r['method']} | {params} | {r['error']} | | | | | |")
            continue
        for run in r["runs"]:
            print(f"| {r['method']} | {params} | {r['build_s']:.1f} | {run['search']} | {run['median_ms']:.1f} | "
                  f"{run['recall_all']:.3f} | {run.get('queries_all10', run.get('nq', 200))} | "
                  f"{r.get('peak_mb', float('nan')):,.0f} |")


if __name__ == "__main__":
    main()
