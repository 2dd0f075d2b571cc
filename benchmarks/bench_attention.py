"""Attention capture vs the plain fused forward of the same model, measured side by side in one run.

    python benchmarks/bench_attention.py [--model timm:vit_base_patch16_224] [--repeats 20]

Random weights are used when the pretrained ones are not cached (speed does not depend on the values).
Goal (issue 2): capture / fused forward <= 1.3 for ViT-B/16 at 224 px, batch 1.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

import vizcore as vc
from vizcore.analysis import attention


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def rows(model: str = "timm:vit_base_patch16_224", repeats: int = 20) -> list[dict]:
    """Medians of the plain fused forward and of `attention.capture`, interleaved: [{"measurement", "ms"}]."""
    try:
        handle = vc.load_model(model)
    except vc.VizcoreError:
        handle = vc.load_model(model, pretrained=False)
    x = handle.prepare(torch.rand(1, 3, *handle.preprocess.size))
    for _ in range(3):  # warm-up both paths
        handle.forward(x)
        attention.capture(handle, x)
    fused, capture = [], []
    for _ in range(repeats):  # interleave so drift hits both equally
        fused += _time(lambda: handle.forward(x), 1)
        capture += _time(lambda: attention.capture(handle, x), 1)
    title = f"{handle.info.title}, input {tuple(x.shape)}"
    return [{"measurement": f"plain fused forward ({title})", "ms": statistics.median(fused) * 1e3},
            {"measurement": "attention.capture (eager, hooks, all layers)", "ms": statistics.median(capture) * 1e3}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="timm:vit_base_patch16_224")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    fused, capture = rows(args.model, args.repeats)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; {args.repeats} interleaved repeats, medians")
    print("| measurement | median ms | ratio |")
    print("|---|---|---|")
    print(f"| {fused['measurement']} | {fused['ms']:.1f} | 1.00 |")
    print(f"| {capture['measurement']} | {capture['ms']:.1f} | {capture['ms'] / fused['ms']:.2f} |")


if __name__ == "__main__":
    main()
