"""`vizcore embed`: embeddings of a large image set as Parquet shards (local or Ray); see `vizcore.export.embed_job`."""

from __future__ import annotations

from pathlib import Path

from vizcore.analysis import embeddings
from vizcore.export.embed_job import EmbedJob, run_local
from vizcore.export.embed_ray import run_ray
from vizcore.train.loop import tqdm_progress


def add(sub) -> None:
    e = sub.add_parser("embed", help="embed a folder / zip / list of images into Parquet shards (resumable)",
                       epilog="Example: vizcore embed photos/ --model bundled:tiny_vit --out run/ ; then "
                              "vizcore project run/ --method umap and open run/ in the projector page. "
                              "With --engine ray the same job runs as a Ray Data pipeline (pip install -e "
                              "'.[scale]'; on a cluster set RAY_ADDRESS=auto).")
    e.add_argument("source", help="a folder of images (labels from sub-folders), a .zip, a .txt file with one "
                                  "image path per line, or a .parquet table with a path or image-bytes column")
    e.add_argument("--model", required=True, help="a model spec (see `vizcore models`) or pixels")
    e.add_argument("--out", type=Path, required=True, help="output folder (rerun with the same folder to resume)")
    e.add_argument("--layer", type=int, default=-1, help="ViT / MAE block (default: the final features)")
    e.add_argument("--pooling", choices=["cls", "mean"], default="cls", help="ViT / MAE: CLS token or patch mean")
    e.add_argument("--random-weights", action="store_true", help="timm models: random weights (labelled so)")
    e.add_argument("--batch-size", type=int, default=embeddings.BATCH_SIZE, help="images per forward pass (1-4096)")
    e.add_argument("--thumb", type=int, default=48, help="longest side of stored JPEG thumbnails, 0-256 (0: none)")
    e.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process; ray: a Ray Data pipeline (actors load the model once per worker)")
    e.add_argument("--workers", type=int, default=None, help="--engine ray: number of actors (default: all CPUs)")
    e.set_defaults(run=_embed)


def _embed(args) -> int:
    job = EmbedJob(str(args.source), args.model, args.layer, args.pooling, not args.random_weights,
                   args.batch_size, args.thumb)
    if args.engine == "ray":
        summary = run_ray(job, args.out, workers=args.workers)
    else:
        bar = tqdm_progress(desc="embedding images", unit="image")
        summary = run_local(job, args.out, progress=lambda done, total: bar(done, total, {}))
    print(f"{summary['rows']:,} images; embedded {summary['written']:,} now in {summary['seconds']:.1f} s "
          f"({summary['images_per_s']:.1f} images/s) into {args.out}. Next: vizcore project {args.out}")
    return 0
