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
from vizcore import attention


def _time(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="timm:vit_base_patch16_224")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    try:
        handle = vc.load_model(args.model)
    except vc.VizcoreError:
        handle = vc.load_model(args.model, pretrained=False)
    x = handle.prepare(torch.rand(1, 3, *handle.preprocess.size))
    for _ in range(3):  # warm-up both paths
        handle.forward(x)
        attention.capture(handle, x)
    fused, capture = [], []
    for _ in range(args.repeats):  # interleave so drift hits both equally
        fused += _time(lambda: handle.forward(x), 1)
        capture += _time(lambda: attention.capture(handle, x), 1)
    f, c = statistics.median(fused), statistics.median(capture)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}")
    print(f"model: {handle.info.title}, input {tuple(x.shape)}, {args.repeats} interleaved repeats, medians")
    print("| measurement | median ms | ratio |")
    print("|---|---|---|")
    print(f"| plain fused forward | {f * 1e3:.1f} | 1.00 |")
    print(f"| attention.capture (eager, hooks, all layers) | {c * 1e3:.1f} | {c / f:.2f} |")


if __name__ == "__main__":
    main()
