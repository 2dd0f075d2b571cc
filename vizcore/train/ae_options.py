"""Command-line options of `vizcore train ae | sae | vae`: parse them and run the recipe in `vizcore.train_ae`."""

from __future__ import annotations

from pathlib import Path

from vizcore.train.autoencoders import train_ae, train_bundled, train_sae, train_vae
from vizcore.train.loop import tqdm_progress


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m vizcore.train_ae_cli", description="Train bundled autoencoders.",
                                epilog="Example: python -m vizcore.train_ae_cli vae --bundled --out assets/models")
    p.add_argument("recipe", choices=["ae", "sae", "vae"])
    p.add_argument("--out", type=Path, default=Path("assets/models"), help="folder for weights + model card")
    p.add_argument("--seed", type=int, default=0)
    add_arguments(p)
    return dispatch(p.parse_args(argv))


def add_arguments(p) -> None:
    """The autoencoder options of `vizcore train ae | sae | vae` (besides recipe, --out and --seed)."""
    p.add_argument("--bundled", action="store_true", help="ae/sae/vae: re-train every bundled model of this kind")
    p.add_argument("--only", nargs="*", default=None, help="with --bundled: only these bundled names")
    p.add_argument("--latent-dim", type=int, default=None, help="ae/sae/vae: code size (sparse AE: units)")
    p.add_argument("--beta", type=float, default=1.0, help="vae: weight of the KL term")
    p.add_argument("--sparsity", choices=["l1", "kl", "topk"], default="l1", help="sae: sparsity mechanism")
    p.add_argument("--dataset", default=None, help="ae/sae/vae: a vizcore data set (digits, sprites)")
    p.add_argument("--steps", type=int, default=None, help="ae/sae/vae: optimiser steps (default: the recipe's)")
    p.add_argument("--name", default=None, help="ae/sae/vae: model card name (default derived from the options)")


def dispatch(args) -> int:
    """Run the recipe the parsed `add_arguments` options ask for and print the metrics."""
    if args.bundled:
        cards = train_bundled(args.recipe, out_dir=args.out, names=args.only,
                              progress_factory=lambda name: tqdm_progress(desc=name))
    else:
        common = dict(seed=args.seed, steps=args.steps, name=args.name, out_dir=args.out,
                      progress=tqdm_progress(desc=args.recipe))
        if args.dataset:
            common["dataset"] = args.dataset
        if args.recipe == "ae":
            cards = [train_ae(latent_dim=args.latent_dim or 16, **common)[1]]
        elif args.recipe == "sae":
            cards = [train_sae(units=args.latent_dim or 128, sparsity=args.sparsity, **common)[1]]
        else:
            cards = [train_vae(beta=args.beta, latent_dim=args.latent_dim or 10, **common)[1]]
    for card in cards:
        m = {k: v for k, v in card["metrics"].items() if k not in ("history", "kl_per_dim", "mu_variance_per_dim")}
        print(f"wrote {args.out / (card['name'] + '.safetensors')} ({card['recipe']['wall_seconds_total']:.0f} s): {m}",
              flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
