"""`vizcore embed` throughput, local vs Ray (2 CPUs), and peak memory at 100k images.

    nice python benchmarks/bench_embed.py --images 2000 --engines local ray     # images/s, same 2,000 images
    nice python benchmarks/bench_embed.py --images 100000 --engines local      # peak RSS stays bounded

Images: seeded 48 x 48 PNGs (random colour blocks) in 10 labelled sub-folders, written once to a temporary
folder. Model: the bundled tiny ViT (64 px, CLS of the last block). Each run is `vizcore embed` in a fresh process
under `/usr/bin/time -v` (wall time, max RSS); Ray starts locally with the machine's CPUs (here 2).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def make_images(root: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / f"class{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        block = rng.integers(0, 255, (6, 6, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
        Image.fromarray(block).save(d / f"{i:06d}.png", optimize=False, compress_level=1)


def run(source: Path, out: Path, engine: str) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "vizcore", "embed", str(source), "--model",
           "bundled:tiny_vit", "--out", str(out), "--engine", engine]
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    rss = next((int(ln.split(":")[-1]) for ln in proc.stderr.splitlines() if "Maximum resident" in ln), 0)
    if proc.returncode:
        print(proc.stderr[-2000:])
    return {"wall": wall, "rss_mb": rss / 1024, "ok": proc.returncode == 0, "stdout": proc.stdout.strip()[-300:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--engines", nargs="+", default=["local", "ray"])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vizcore-embed-bench-"))
    t = time.perf_counter()
    make_images(tmp / "images", args.images)
    print(f"wrote {args.images:,} images in {time.perf_counter() - t:.0f} s", flush=True)
    print("| engine | images | wall s (incl. start-up) | images/s | max RSS MB |\n|---|---|---|---|---|")
    for engine in args.engines:
        r = run(tmp / "images", tmp / f"out_{engine}", engine)
        print(f"| {engine} | {args.images:,} | {r['wall']:.0f} | {args.images / r['wall']:.0f} | "
              f"{r['rss_mb']:,.0f} |{'' if r['ok'] else ' FAILED'}  ({r['stdout']})", flush=True)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
