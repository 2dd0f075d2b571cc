"""The `vizcore` command: list models, train the bundled models, render attention maps, start the app."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

VIEWS = ("rollout", "grad-rollout", "cls", "query")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vizcore", description="See what image models learn.",
                                epilog="Example: vizcore attention cat.jpg --view rollout --out map.png")
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("models", help="list models available offline",
                       epilog="Example: vizcore models")
    m.set_defaults(run=_models)

    t = sub.add_parser("train", help="train a bundled model with its recipe",
                       epilog="Example: vizcore train vit --out assets/models; vizcore train vae --bundled "
                              "(every bundled VAE as shipped); vizcore train ae --latent-dim 8; vizcore train mae")
    t.add_argument("recipe", choices=["vit", "ae", "sae", "vae", "mae"])
    t.add_argument("--out", type=Path, default=Path("assets/models"), help="folder for weights + model card")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=None, help="vit/mae: override the recipe's number of epochs")
    from vizcore.train_ae_cli import add_arguments

    add_arguments(t)
    t.set_defaults(run=_train)

    a = sub.add_parser("attention", help="render an attention map of an image to PNG",
                       epilog="Example: vizcore attention photo.jpg --model timm:vit_small_patch16_224.dino "
                              "--view rollout --out map.png --npy attn.npy")
    a.add_argument("image", type=Path)
    a.add_argument("--model", default="bundled:tiny_vit", help="model spec (see `vizcore models`)")
    a.add_argument("--random-weights", action="store_true", help="use the architecture with random weights")
    a.add_argument("--view", choices=VIEWS, default="rollout")
    a.add_argument("--layer", type=int, default=-1, help="layer for --view cls/query (default: last)")
    a.add_argument("--row", type=int, default=0, help="query patch row for --view query")
    a.add_argument("--col", type=int, default=0, help="query patch column for --view query")
    a.add_argument("--head-fusion", choices=["mean", "max", "min"], default="mean")
    a.add_argument("--discard-ratio", type=float, default=0.0)
    a.add_argument("--class-index", type=int, default=None, help="class for grad-rollout (default: top-1)")
    a.add_argument("--fit", choices=["resize", "crop", "keep_aspect"], default="resize")
    a.add_argument("--opacity", type=float, default=0.6)
    a.add_argument("--colorscale", default="Inferno")
    a.add_argument("--interpolation", choices=["bilinear", "nearest"], default="bilinear")
    a.add_argument("--out", type=Path, default=Path("attention.png"), help="overlay PNG to write")
    a.add_argument("--npy", type=Path, default=None, help="also save raw attention (L, H, N, N) as .npy")
    a.set_defaults(run=_attention)

    k = sub.add_parser("mae", help="mask an image and render the MAE's four panels to PNG",
                       epilog="Example: vizcore mae photo.png --model bundled:tiny_mae --ratio 0.75 --strategy random "
                              "--seed 2 --out panels.png; focused: --strategy focused --region 2,2,6,6 --strength 1")
    k.add_argument("image", type=Path)
    k.add_argument("--model", default="bundled:tiny_mae", help="an MAE spec: bundled:<name> or file:<checkpoint>")
    k.add_argument("--random-weights", action="store_true", help="use the architecture with random weights")
    k.add_argument("--ratio", type=float, default=0.75, help="mask ratio in [0, 0.95]")
    k.add_argument("--strategy", choices=["random", "block", "grid", "focused"], default="random")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--region", default="rollout",
                   help="focused only: 'rollout' (the encoder's attention rollout) or top,left,bottom,right in patches")
    k.add_argument("--strength", type=float, default=1.0, help="focused only: how strongly the region is favoured")
    k.add_argument("--keep", action="store_true", help="focused only: keep the region instead of hiding it")
    k.add_argument("--out", type=Path, default=Path("mae_panels.png"), help="PNG of the four panels")
    k.set_defaults(run=_mae)

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

    s = sub.add_parser("app", help="start the web app (streamlit run app.py)",
                       epilog="Example: vizcore app --port 8501")
    s.add_argument("--port", type=int, default=8501)
    s.set_defaults(run=_app)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from vizcore.errors import VizcoreError

    try:
        return args.run(args) or 0
    except VizcoreError as e:
        print(f"vizcore: {e}", file=sys.stderr)
        return 2


def _models(args) -> int:
    import vizcore as vc

    for info in vc.list_models():
        where = "offline" if info.offline else "no local weights (random only)"
        print(f"{info.spec:55s} {where:32s} {info.title}")
    return 0


def _train(args) -> int:
    if args.recipe == "mae":
        from vizcore import train_mae

        _, card = train_mae.train_mae(seed=args.seed, epochs=args.epochs, progress=train_mae.tqdm_progress(),
                                      out_dir=args.out)
        print(train_mae.summary(card, args.out))
        return 0
    if args.recipe != "vit":
        from vizcore import train_ae_cli

        return train_ae_cli.dispatch(args)
    from vizcore import train

    kwargs = {"seed": args.seed, "out_dir": args.out, "progress": train.tqdm_progress()}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    _, card = train.train_vit(**kwargs)
    print(f"wrote {args.out / (card['name'] + '.safetensors')}; metrics: {card['metrics']}")
    return 0


def _attention(args) -> int:
    import numpy as np

    import vizcore as vc
    from vizcore import attention, render

    model = vc.load_model(args.model, pretrained=not args.random_weights)
    image = vc.load_image(args.image)
    target = None
    if args.view == "grad-rollout":
        target = args.class_index
        if target is None:
            target = int(attention.capture(model, [image], fit=args.fit).logits[0].argmax())
    maps = attention.capture(model, [image], fit=args.fit, target=target)
    grid = _view_grid(maps, args)
    png = render.to_png(render.overlay(maps.image[0].numpy(), grid, opacity=args.opacity,
                                       colorscale=args.colorscale, interpolation=args.interpolation))
    args.out.write_bytes(png)
    print(f"wrote {args.out} ({args.view}, {model.info.title})")
    if args.npy:
        np.save(args.npy, maps.attn[0].numpy())
        print(f"wrote {args.npy} {tuple(maps.attn[0].shape)} (layers, heads, tokens, tokens)")
    return 0


def _view_grid(maps, args):
    from vizcore import attention
    from vizcore.errors import InputError

    layer = args.layer % maps.num_layers
    if args.view == "rollout":
        return attention.rollout(maps, head_fusion=args.head_fusion, discard_ratio=args.discard_ratio)[0]
    if args.view == "grad-rollout":
        return attention.grad_rollout(maps)[0]
    if args.view == "cls":
        return attention.cls_maps(maps, layer)[0].mean(0)
    gh, gw = maps.layout.grid
    if not (0 <= args.row < gh and 0 <= args.col < gw):
        raise InputError(f"Patch ({args.row}, {args.col}) is outside the {gh}x{gw} grid.")
    token = maps.layout.num_prefix_tokens + args.row * gw + args.col
    return attention.query_map(maps, layer, token, args.head_fusion)[0]


def _mae(args) -> int:
    import vizcore as vc
    from vizcore import attention, mae, render
    from vizcore.errors import InputError
    from vizcore.figures.mae import PANEL_TITLES

    if not 0.0 <= args.ratio <= 0.95:
        raise InputError(f"--ratio must be between 0 and 0.95, got {args.ratio}.")
    model = vc.load_model(args.model, pretrained=not args.random_weights)
    if getattr(model, "kind", "") != "mae":
        raise InputError(f"{args.model} is not a masked autoencoder; pick one with `vizcore models` (kind mae).")
    x = model.prepare([vc.load_image(args.image)])
    g = model.cfg.grid
    noise = mae.strategy_noise("random" if args.strategy == "focused" else args.strategy, 1, g, seed=args.seed)
    if args.strategy == "focused":
        if args.region == "rollout":
            region = mae.attention_region(attention.rollout(attention.capture(model, x)), g)
        else:
            try:
                region = mae.rectangle_region(g, *(int(v) for v in args.region.split(",")))
            except (TypeError, ValueError):
                raise InputError(f"--region must be 'rollout' or four integers top,left,bottom,right; got "
                                 f"{args.region!r}.") from None
        noise = mae.focus_noise(noise, region, strength=args.strength, hide=not args.keep)
    r = mae.reconstruct(model, x, mask_ratio=args.ratio, noise=noise)
    strip = render.labelled_strip([r.original[0], r.masked[0], r.reconstruction[0], r.pasted[0]], list(PANEL_TITLES))
    args.out.write_bytes(render.to_png(strip, scale=1))
    hidden = r.mask[0].bool()
    mse = float(r.patch_error[0].flatten()[hidden].mean()) if hidden.any() else 0.0
    print(f"wrote {args.out}: {r.kept} of {g * g} patches kept, MSE on hidden patches {mse:.4f} ({model.info.title})")
    return 0


def _export_projector(args) -> int:
    from vizcore import embeddings, export, projection
    from vizcore.train import tqdm_progress

    ds = _projector_dataset(args)
    bar = tqdm_progress(desc="embedding")
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
    import vizcore as vc
    from vizcore import imagesets

    if args.dataset:
        return vc.data.load_dataset(args.dataset)
    if args.zip:
        found = imagesets.from_zip(args.zip, max_images=args.max_images)
    else:
        found = imagesets.from_folder(args.folder, csv=args.csv, max_images=args.max_images)
    if found.skipped:
        print(found.summary())
    return found.dataset


def _app(args) -> int:
    import subprocess

    app = Path(__file__).resolve().parents[1] / "app.py"
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
                            "--browser.gatherUsageStats", "false"])
