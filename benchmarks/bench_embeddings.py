"""`vizcore.embeddings.compute` vs a bare batched forward loop of the same model on the same images, side by side.

    python benchmarks/bench_embeddings.py [--quick] [--repeats 5] [--threads 1]

The bare loop is what a user would write by hand: `forward_head(forward_features(normalize(x)), pre_logits=True)`
per batch under `torch.inference_mode()`, on images already at the model's size. `compute` gets the same images and
batch size and also runs its own preparation, pooling and the copy into one numpy array. The layer-1 row compares an
intermediate layer (early stop: later blocks are skipped) against the same full bare loop.
Random weights for vit_small (speed does not depend on the values). Goal (issue 6): compute / bare <= 1.1.

Both wall time and process CPU time are reported. One torch thread by default: on two cores shared with other jobs,
two OpenMP threads spin-wait and both the wall and the CPU time of a run vary by 2-3x between repeats, which hides
a 10% difference; one thread gives repeats within a few percent (the ratio does not depend on the thread count).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import vizcore as vc
from vizcore.analysis import embeddings
from vizcore.data.scenes import make_scenes

BATCH = 64


def _bare(handle, x: torch.Tensor, batch: int) -> torch.Tensor:
    m = handle.module
    with torch.inference_mode():
        return torch.cat([m.forward_head(m.forward_features(handle.normalize(x[i:i + batch])), pre_logits=True)
                          for i in range(0, len(x), batch)])  # (N, D)


def _median_ms(fns: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall ms, CPU ms) of each function, interleaved so load changes hit all of them alike."""
    for fn in fns.values():  # warm-up
        fn()
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            wall, cpu = time.perf_counter(), time.process_time()
            fn()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {k: (statistics.median(w for w, _ in v) * 1e3, statistics.median(c for _, c in v) * 1e3)
            for k, v in times.items()}


def _cases(quick: bool) -> list[tuple[str, object, torch.Tensor, list[tuple[str, dict]]]]:
    tiny = vc.load_model("bundled:tiny_vit")
    scenes = tiny.prepare(make_scenes(500 if quick else 2000, seed=7).images)  # (N, 3, 64, 64)
    small = vc.load_model("timm:vit_small_patch16_224", pretrained=False)
    photos = small.prepare(torch.rand(16 if quick else 64, 3, 224, 224, generator=torch.Generator().manual_seed(0)))
    return [
        ("bundled:tiny_vit", tiny, scenes, [("layer -1, cls", dict(layer=-1, pooling="cls")),
                                            ("layer 1, mean (early stop)", dict(layer=1, pooling="mean"))]),
        ("vit_small_patch16_224 (random)", small, photos, [("layer -1, cls", dict(layer=-1, pooling="cls"))]),
    ]


def rows(quick: bool, repeats: int | None = None, threads: int = 1) -> list[dict]:
    """One row per (model, setting): images, bare loop and compute medians (wall and CPU ms) and their ratios."""
    repeats = repeats or (3 if quick else 5)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    out = []
    try:
        for model, handle, x, settings in _cases(quick):
            fns = {"bare": lambda h=handle, x=x: _bare(h, x, BATCH)}
            fns |= {name: (lambda h=handle, x=x, kw=kw: embeddings.compute(h, x, batch_size=BATCH, **kw))
                    for name, kw in settings}
            ms = _median_ms(fns, repeats)
            (bare_wall, bare_cpu) = ms["bare"]
            for name, _ in settings:
                wall, cpu = ms[name]
                out.append(dict(model=model, setting=name, images=len(x), size=tuple(x.shape[-2:]), batch=BATCH,
                                threads=threads, bare_ms=bare_wall, compute_ms=wall, ratio=wall / bare_wall,
                                bare_cpu_ms=bare_cpu, compute_cpu_ms=cpu, cpu_ratio=cpu / bare_cpu))
    finally:
        torch.set_num_threads(before)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer images and repeats (a smoke run)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: stable on shared cores)")
    args = ap.parse_args()
    table = rows(args.quick, args.repeats, args.threads)
    print(f"machine: {platform.processor() or platform.machine()}, {args.threads} torch thread(s), "
          f"torch {torch.__version__}; batch {BATCH}, interleaved repeats, medians")
    print("| model | setting | images | bare wall ms | compute wall ms | ratio | bare CPU ms | compute CPU ms "
          "| CPU ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table:
        h, w = r["size"]
        print(f"| {r['model']} | {r['setting']} | {r['images']:,} at {h}x{w} | {r['bare_ms']:.0f} | "
              f"{r['compute_ms']:.0f} | {r['ratio']:.2f} | {r['bare_cpu_ms']:.0f} | {r['compute_cpu_ms']:.0f} | "
              f"{r['cpu_ratio']:.2f} |")


if __name__ == "__main__":
    main()
