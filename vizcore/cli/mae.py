"""`vizcore mae IMAGE`: mask an image and render an MAE's four panels to PNG (random weights labelled in the
picture)."""

from __future__ import annotations

from pathlib import Path

import vizcore as vc
from vizcore.analysis import attention, mae
from vizcore.analysis.mae import PANEL_TITLES
from vizcore.cli import heap
from vizcore.cli.attention import labelled_png
from vizcore.errors import InputError
from vizcore.export import render
from vizcore.models.mae.handle import MaeViT


def add(sub) -> None:
    k = sub.add_parser("mae", help="mask an image and render the MAE's four panels to PNG",
                       epilog="Example: vizcore mae photo.png --model bundled:tiny_mae --ratio 0.75 --strategy random "
                              "--seed 2 --out panels.png; focused: --strategy focused --region 2,2,6,6 --strength 1")
    k.add_argument("image", type=Path)
    k.add_argument("--model", default="bundled:tiny_mae",
                   help="an MAE spec: bundled:<name>, hf:facebook/vit-mae-base or file:<checkpoint>")
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


def _mae(args) -> int:
    if not 0.0 <= args.ratio <= 0.95:
        raise InputError(f"--ratio must be between 0 and 0.95, got {args.ratio}.")
    with heap.loading():  # timm and the model: long-lived, not worth collecting (vizcore.cli.heap)
        model = vc.load_model(args.model, pretrained=not args.random_weights)
    if not isinstance(model, MaeViT):
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
    args.out.write_bytes(labelled_png(strip, model.info))
    hidden = r.mask[0].bool()
    mse = float(r.patch_error[0].flatten()[hidden].mean()) if hidden.any() else 0.0
    print(f"wrote {args.out}: {r.kept} of {g * g} patches kept, MSE on hidden patches {mse:.4f} ({model.info.title})")
    if not model.info.pretrained:
        print("note: random weights: the reconstruction is that of an untrained MAE (the PNG says so too).")
    return 0
