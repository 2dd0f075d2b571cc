"""`vizcore attention IMAGE`: an attention map of an image as a PNG overlay (and raw `.npy`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import vizcore as vc
from vizcore.analysis import attention
from vizcore.errors import InputError
from vizcore.export import render

VIEWS = ("rollout", "grad-rollout", "cls", "query")


def add(sub) -> None:
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


def _attention(args) -> int:


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
