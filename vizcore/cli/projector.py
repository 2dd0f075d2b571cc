"""`vizcore export-projector`: embed a data set, folder or zip and write TensorFlow Projector files."""

from __future__ import annotations

from pathlib import Path

import vizcore as vc
from vizcore import export
from vizcore.analysis import embeddings, projection
from vizcore.data import imagesets
from vizcore.train.loop import tqdm_progress


def add(sub) -> None:
    e = sub.add_parser("export-projector", help="embed a data set and write TensorFlow Projector files",
                       epilog="Example: vizcore export-projector --dataset digits --model pixels --out proj/; "
                              "vizcore export-projector --folder photos/ --model bundled:tiny_vit --projection umap "
                              "--out proj/ (then open projector.tensorflow.org and load the files)")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="a bundled data set (digits, sprites, scenes, faces, photos)")
    src.add_argument("--folder", type=Path, help="a folder of images, labels from sub-folders or --csv")
    src.add_argument("--zip", type=Path, help="a zip of images, labels from sub-folders or a CSV inside")
    e.add_argument("--csv", type=Path, default=None, help="with --folder: CSV of file name, label, more columns")
    e.add_argument("--max-images", type=int, default=100_000, help="refuse folders / zips with more images")
    e.add_argument("--model", default="pixels", help="pixels, pca:<k>, or a model spec (see `vizcore models`)")
    e.add_argument("--layer", type=int, default=-1, help="ViT / MAE block (default: the final features)")
    e.add_argument("--pooling", choices=["cls", "mean"], default="cls", help="ViT / MAE: CLS token or patch mean")
    e.add_argument("--projection", choices=["umap", "tsne", "pca", "none"], default="pca",
                   help="also store vizcore's own full-N map as a projector bookmark")
    e.add_argument("--dims", type=int, choices=[2, 3], default=2)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--no-sprite", action="store_true", help="do not write sprite.png")
    e.add_argument("--out", type=Path, required=True, help="output folder")
    e.set_defaults(run=_export_projector)


def _export_projector(args) -> int:
    ds = _projector_dataset(args)
    bar = tqdm_progress(len(ds), desc="embedding", unit="image")
    vectors = embeddings.compute(args.model, ds.images, layer=args.layer, pooling=args.pooling,
                                 progress=lambda done, total: bar(done, total, {}))
    proj = None
    if args.projection != "none":
        proj = projection.run(vectors, method=args.projection, dims=args.dims, seed=args.seed,
                              progress=lambda f, msg: print(msg, flush=True))
    meta = {"label": [ds.label_names[i] for i in ds.labels], "id": list(ds.ids), **ds.metadata}
    paths = export.tf_projector(args.out, vectors, meta, projection=proj,
                                sprite_images=None if args.no_sprite else ds.images, tensor_name=args.model)
    print(f"wrote {len(paths)} files to {args.out} ({vectors.shape[0]:,} vectors of {vectors.shape[1]} dims). Open "
          "https://projector.tensorflow.org, click Load, and pick vectors.tsv and metadata.tsv (or serve the folder "
          "and pass ?config=projector_config.json).")
    return 0


def _projector_dataset(args):
    if args.dataset:
        return vc.data.load_dataset(args.dataset)
    if args.zip:
        found = imagesets.from_zip(args.zip, max_images=args.max_images)
    else:
        found = imagesets.from_folder(args.folder, csv=args.csv, max_images=args.max_images)
    if found.skipped:
        print(found.report())  # the summary, then every skipped file by name with its reason
    return found.dataset
