"""`vizcore train <recipe>`: re-train a bundled model with its recipe."""

from __future__ import annotations

from pathlib import Path

from vizcore.train import ae_options as train_ae_cli
from vizcore.train import mae as train_mae
from vizcore.train import vit as train
from vizcore.train.ae_options import add_arguments
from vizcore.train.loop import tqdm_progress


def add(sub) -> None:
    t = sub.add_parser("train", help="train a bundled model with its recipe",
                       epilog="Example: vizcore train vit --out assets/models; vizcore train vae --bundled "
                              "(every bundled VAE as shipped); vizcore train ae --latent-dim 8; vizcore train mae")
    t.add_argument("recipe", choices=["vit", "ae", "sae", "vae", "mae"])
    t.add_argument("--out", type=Path, default=Path("assets/models"), help="folder for weights + model card")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=None, help="vit/mae: override the recipe's number of epochs")

    add_arguments(t)
    t.set_defaults(run=_train)


def _train(args) -> int:
    if args.recipe == "mae":
        _, card = train_mae.train_mae(seed=args.seed, epochs=args.epochs, progress=tqdm_progress(),
                                      out_dir=args.out)
        print(train_mae.summary(card, args.out))
        return 0
    if args.recipe != "vit":
        return train_ae_cli.dispatch(args)

    kwargs = {"seed": args.seed, "out_dir": args.out, "progress": tqdm_progress()}
    if args.epochs is not None:
        kwargs["epochs"] = args.epochs
    _, card = train.train_vit(**kwargs)
    print(f"wrote {args.out / (card['name'] + '.safetensors')}; metrics: {card['metrics']}")
    return 0
