"""`vizcore attention IMAGE`: an attention map of an image as a PNG overlay (and raw `.npy` with a `.json` sidecar
naming the model). Random weights are labelled in the picture, the sidecar and the message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

import vizcore as vc
from vizcore.analysis import attention
from vizcore.cli import heap
from vizcore.errors import InputError
from vizcore.export import render

VIEWS = ("rollout", "grad-rollout", "cls", "query")
RANDOM_LABEL = "RANDOM WEIGHTS (untrained): not a learned pattern"
BAND, BAND_COLOUR = 28, (178, 24, 43)


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
    a.add_argument("--base-image", choices=["grey", "colour"], default="grey",
                   help="the image under the map: grey keeps every pixel at its colour's hue on the scale; colour "
                        "mixes the photo's hues in (default: grey)")
    a.add_argument("--out", type=Path, default=Path("attention.png"), help="overlay PNG to write")
    a.add_argument("--npy", type=Path, default=None, help="also save raw attention (L, H, N, N) as .npy")
    a.set_defaults(run=_attention)


def _attention(args) -> int:
    with heap.loading():  # timm and the model: long-lived, not worth collecting (vizcore.cli.heap)
        model = vc.load_model(args.model, pretrained=not args.random_weights)
    image = vc.load_image(args.image)
    target = None
    if args.view == "grad-rollout":  # the top class unless one is given, from the same pass
        target = attention.PREDICTED if args.class_index is None else args.class_index
    maps = attention.capture(model, [image], fit=args.fit, target=target)
    grid = _view_grid(maps, args)
    seen = maps.image[0].numpy()  # (C, H, W): exactly what the model saw
    base = render.grey(seen) if args.base_image == "grey" else seen
    picture = render.overlay(base, grid, opacity=args.opacity, colorscale=args.colorscale,
                             interpolation=args.interpolation)
    args.out.write_bytes(labelled_png(picture, model.info))
    print(f"wrote {args.out} ({args.view}, {model.info.title})")
    if args.npy:
        np.save(args.npy, maps.attn[0].numpy())
        sidecar = write_sidecar(args.npy, model.info, {
            "array": "attention probabilities of one image", "shape": list(maps.attn[0].shape),
            "axes": ["layer", "head", "query token", "key token"], "dtype": str(maps.attn.dtype).replace("torch.", ""),
            "prefix_tokens": list(maps.layout.prefix_names), "patch_grid": list(maps.layout.grid),
            "input_size": list(maps.layout.input_size), "image": str(args.image), "fit": args.fit,
            "base_image": args.base_image})
        print(f"wrote {args.npy} {tuple(maps.attn[0].shape)} (layers, heads, tokens, tokens) and {sidecar}")
    if not model.info.pretrained:
        print("note: random weights: these maps show an untrained network, not anything learned "
              "(the PNG and the .json say so too).")
    return 0


def labelled_png(picture: np.ndarray, info) -> bytes:
    """PNG bytes of a uint8 (H, W, 3) picture, enlarged like `render.to_png`; a model with random weights gets a
    red band saying so across the top, IN the picture, so the file cannot be mistaken for a learned result."""
    k = render.png_scale(picture.shape)
    big = np.repeat(np.repeat(picture, k, axis=0), k, axis=1)  # (kH, kW, 3)
    if not info.pretrained:
        big = np.concatenate([_band(big.shape[1], RANDOM_LABEL), big])  # (BAND + kH, kW, 3)
    return render.to_png(big, scale=1)


def _band(width: int, text: str) -> np.ndarray:
    canvas = Image.new("RGB", (width, BAND), BAND_COLOUR)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=15)
    if draw.textlength(text, font=font) > width - 12:  # narrow picture: the essential part only
        text = text.split(":")[0]
    draw.text((6, 6), text, fill=(255, 255, 255), font=font)
    return np.asarray(canvas)


def write_sidecar(npy: Path, info, fields: dict) -> Path:
    """`x.npy` -> `x.json` beside it: which model (spec, title, pretrained or random weights) made the array."""
    path = Path(npy).with_suffix(".json")
    meta = {"model": info.spec, "title": info.title, "pretrained": bool(info.pretrained),
            "weights": "pretrained" if info.pretrained else "RANDOM (untrained): not a learned result", **fields}
    path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return path


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
