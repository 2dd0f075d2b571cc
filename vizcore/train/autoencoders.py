"""Reproducible training recipes for the bundled autoencoders (AE, sparse AE, VAE) and short in-app runs.

Every recipe is an `AeRecipe` (seeded; AdamW with linear warm-up and cosine decay; losses summed over pixels and
averaged over the batch):

- AE: reconstruction only (squared error: the quantity PCA minimises, so the two compare fairly);
- sparse AE: reconstruction + lambda x sparsity (L1 of the code weighted by each unit's decoder-column norm, or
  KL(rho || mean activation) per unit; top-k needs no penalty);
- VAE: Bernoulli reconstruction (binary cross-entropy) + beta x KL(q(z|x) || N(0, I)) in closed form.

Data: any `vizcore.data` data set, split once into training and held-out images (`holdout`); for the procedural
sprites the training images are freshly generated from the recipe seed and the registered set is held out.
Each run writes `<name>.safetensors` (float16, to keep assets small; metrics are measured after the rounding)
and `<name>.json` (architecture, data, recipe, seed, metrics, wall time).

    vizcore train vae --bundled --out assets/models    # every bundled VAE, exactly as shipped
    vizcore train ae --latent-dim 8                    # one model (options: vizcore.train_ae_cli)
"""

from __future__ import annotations

import contextlib
import copy
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vizcore.analysis import classify, latent, sparse
from vizcore.data import Dataset
from vizcore.data.splits import GENERATED, SPLIT_SEED, TEST_FRACTION, holdout
from vizcore.errors import InputError
from vizcore.models.autoencoders import (
    AeConfig,
    Autoencoder,
    TorchAutoencoder,
    build_autoencoder,
    config_dict,
    handle_for,
    num_params,
)
from vizcore.train.loop import command_line, lr_factor, save

# (step, total_steps, metrics) -> False to stop early (None or True: go on)
Progress = Callable[[int, int, dict], "bool | None"]



@dataclass(frozen=True)
class AeRecipe:
    """Everything that determines one trained autoencoder (with the seed it is reproducible on one machine)."""

    name: str = "ae"
    kind: str = "ae"               # "ae", "sae" or "vae"
    dataset: str = "digits"        # a `vizcore.data` data set
    latent_dim: int = 16
    hidden: tuple[int, ...] = (256, 128)   # MLP widths (measured on digits: beats PCA at k <= 16)
    conv_channels: tuple[int, ...] = ()    # stride-2 convolutions first (sprites: (16, 32, 32))
    decoder: str = "mirror"
    sparsity: str = "l1"
    topk: int = 8
    recon: str = "mse"             # "mse" (AE) or "bce" (VAE: Bernoulli likelihood)
    beta: float = 1.0              # VAE: weight of the KL term
    kl_warmup: float = 0.0         # VAE: share of the steps over which the KL weight ramps up from 0 (Bowman 2016)
    sparsity_weight: float = 0.0   # sparse AE: lambda of the L1 / KL penalty
    rho: float = 0.05              # sparse AE with sparsity "kl": target mean activation
    steps: int = 3000
    batch_size: int = 128
    lr: float = 3e-3               # AdamW peak
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    seed: int = 0
    train_size: int = 20000        # generated data sets only
    threads: int = 1               # measured: on 2 shared cores 1 thread ran 25x faster than 2 fighting a job
    title: str = ""
    description: str = ""

    def config(self, image_size: tuple[int, int], in_chans: int) -> AeConfig:
        return AeConfig(self.kind, tuple(image_size), in_chans, self.latent_dim, tuple(self.hidden),
                        tuple(self.conv_channels), self.decoder, self.sparsity, self.topk)


# The bundled models, exactly as shipped (`vizcore train <kind> --bundled`).
_DIGITS = "scikit-learn digits (8x8)"
_SPRITES = "procedural sprites (32x32)"
_SPRITE_VAE = dict(kind="vae", dataset="sprites", recon="bce", hidden=(128,), conv_channels=(16, 32, 32),
                   latent_dim=10, steps=2500, batch_size=64, lr=2e-3)
BUNDLE: dict[str, AeRecipe] = {
    **{f"ae_{k}d": AeRecipe(name=f"ae_{k}d", latent_dim=k, title=f"AE · digits · {k}-d code",
                            description=f"Autoencoder with a {k}-dimensional bottleneck on {_DIGITS}.")
       for k in (2, 4, 8, 16, 32)},
    "sae_l1": AeRecipe(name="sae_l1", kind="sae", latent_dim=128, hidden=(), decoder="linear", sparsity="l1",
                       sparsity_weight=0.05, title="Sparse AE · digits · 128 units, L1",
                       description=f"128 ReLU units with an L1 penalty and a linear dictionary decoder, {_DIGITS}."),
    "sae_topk": AeRecipe(name="sae_topk", kind="sae", latent_dim=128, hidden=(), decoder="linear",
                         sparsity="topk", topk=16, title="Sparse AE · digits · 128 units, top-16",
                         description=f"128 units of which only the 16 largest stay on per input, {_DIGITS}."),
    "vae_digits_16d": AeRecipe(name="vae_digits_16d", kind="vae", recon="bce", latent_dim=16, steps=4000, kl_warmup=0.3,
                               title="VAE · digits · 16-d latent, β=1",
                               description=f"VAE with a 16-d latent on {_DIGITS}."),
    "vae_digits_2d": AeRecipe(name="vae_digits_2d", kind="vae", recon="bce", latent_dim=2, steps=4000, kl_warmup=0.3,
                              title="VAE · digits · 2-d latent, β=1",
                              description=f"VAE with a 2-d latent on {_DIGITS}: the classic manifold."),
    "vae_2d": AeRecipe(name="vae_2d", **{**_SPRITE_VAE, "latent_dim": 2}, title="VAE · sprites · 2-d latent, β=1",
                       description=f"Convolutional VAE with a 2-d latent on {_SPRITES}."),
    **{name: AeRecipe(name=name, **_SPRITE_VAE, beta=b, title=f"VAE · sprites · 10-d latent, β={b:g}",
                      description=f"Convolutional VAE with a 10-d latent and β={b:g} on {_SPRITES}.")
       for name, b in (("vae_10d", 1.0), ("vae_beta0.5", 0.5), ("vae_beta2", 2.0), ("vae_beta4", 4.0))},
}


# ---- losses -----------------------------------------------------------------------------------------------------

def losses(model: Autoencoder, x: torch.Tensor, r: AeRecipe, generator: torch.Generator | None = None,
           progress: float = 1.0) -> dict:
    """The recipe's loss and its parts on a batch x (B, C, H, W): {"loss", "recon", "kl" | "sparsity"}.

    progress: share of the run done (0..1), for the KL warm-up.
    """
    out = model(x, generator)
    if r.recon == "bce":
        recon = F.binary_cross_entropy_with_logits(out.logits, x, reduction="none")
    else:
        recon = (torch.sigmoid(out.logits) - x).pow(2)
    terms = {"recon": recon.flatten(1).sum(1).mean()}  # per image, summed over pixels
    if r.kind == "vae":
        terms["kl"] = latent.kl_divergence(out.mu, out.logvar).sum(1).mean()
        ramp = min(1.0, progress / r.kl_warmup) if r.kl_warmup > 0 else 1.0
        terms["loss"] = terms["recon"] + ramp * r.beta * terms["kl"]
    elif r.kind == "sae":
        terms["sparsity"] = sparsity_penalty(model, out.z, r)
        terms["loss"] = terms["recon"] + r.sparsity_weight * terms["sparsity"]
    else:
        terms["loss"] = terms["recon"]
    return terms


def sparsity_penalty(model: Autoencoder, z: torch.Tensor, r: AeRecipe) -> torch.Tensor:
    """L1 of the code (times each unit's decoder-column norm, so shrinking z while growing the decoder does not
    pay), or sum_j KL(rho || mean_j) for sigmoid codes; 0 for top-k (sparse by construction)."""
    if r.sparsity == "kl":
        rho_hat = z.mean(0).clamp(1e-6, 1 - 1e-6)  # (D,)
        rho = torch.full_like(rho_hat, r.rho)
        return (rho * (rho / rho_hat).log() + (1 - rho) * ((1 - rho) / (1 - rho_hat)).log()).sum()
    if r.sparsity == "topk":
        return z.new_zeros(())
    scale = model.decoder.net[0].weight.norm(dim=0) if r.decoder == "linear" else 1.0  # (D,)
    return (z.abs() * scale).sum(1).mean()


# ---- training loop ----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit(r: AeRecipe, images: torch.Tensor, progress: Progress | None = None) -> tuple[Autoencoder, list[dict], int]:
    """Train a fresh model on `images` (N, C, H, W); returns (model in eval mode, loss history, steps done).

    `progress(step, total, metrics)` is called after every step; returning False stops the run early.
    """
    if len(images) < 2:
        raise InputError("Training needs at least two images.")
    with _threads(r.threads):
        torch.manual_seed(r.seed)
        model = build_autoencoder(r.config(tuple(images.shape[-2:]), images.shape[1]))
        opt = torch.optim.AdamW(model.parameters(), lr=r.lr, weight_decay=r.weight_decay)
        warm = min(r.warmup_steps, max(1, r.steps // 10))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, r.steps, warm, 0.01))
        g = torch.Generator().manual_seed(r.seed)
        batches = _batches(len(images), r.batch_size, g)
        history: list[dict] = []
        every = max(1, r.steps // 100)
        run: dict[str, float] = {}
        step = 0
        model.train()
        for step in range(1, r.steps + 1):
            terms = losses(model, images[next(batches)], r, g, step / r.steps)
            opt.zero_grad(set_to_none=True)
            terms["loss"].backward()
            opt.step()
            sched.step()
            run = {k: v.item() if not run else 0.9 * run[k] + 0.1 * v.item() for k, v in terms.items()}
            if step % every == 0 or step == r.steps:
                history.append({"step": step, **{k: round(v, 4) for k, v in run.items()}})
            if progress is not None and progress(step, r.steps, {"step": step, **run}) is False:
                break
    return model.eval(), history, step


def _batches(n: int, batch_size: int, g: torch.Generator) -> Iterator[torch.Tensor]:
    """Index batches from seeded permutations, epoch after epoch (the last partial batch is dropped)."""
    b = min(batch_size, n)
    while True:
        perm = torch.randperm(n, generator=g)
        yield from (perm[i:i + b] for i in range(0, n - b + 1, b))


def _round_to_float16(model: Autoencoder) -> None:
    """Round the weights to what the float16 file stores, so the card's metrics are those of the shipped model."""
    with torch.no_grad():
        for p in model.state_dict().values():
            p.copy_(p.half().float())


# ---- evaluation -------------------------------------------------------------------------------------------------

def evaluate(handle: TorchAutoencoder, train: Dataset, test: Dataset) -> dict:
    """Held-out metrics: reconstruction MSE (and PCA's at the same k), KL and active dims, sparsity, accuracies."""
    x_test = handle.prepare(test.images)
    m: dict = {"heldout_mse": round(float(latent.reconstruction_mse(handle, x_test).mean()), 5),
               "heldout_images": len(test)}
    flat_train = handle.prepare(train.images[:5000]).flatten(1).numpy()
    k = handle.latent_dim
    if handle.cfg.kind != "sae" and k < flat_train.shape[1]:
        m["pca_mse_same_k"] = round(classify.pca_reconstruction_mse(flat_train, x_test.flatten(1).numpy(), k), 5)
    if handle.variational:
        stats = latent.latent_stats(handle, x_test)
        m |= {"kl_nats": round(float(stats.kl.sum()), 3), "active_dims": stats.num_active,
              "kl_per_dim": [round(float(v), 4) for v in stats.kl],
              "mu_variance_per_dim": [round(float(v), 4) for v in stats.mu_var],
              "active_rule": f"Var(mu) over held-out images > {latent.ACTIVE_VARIANCE} (Burda et al. 2016)"}
    if handle.cfg.kind == "sae":
        s = sparse.sparse_stats(handle.encode(x_test), sparse.active_threshold(handle.cfg.sparsity))
        m |= {"mean_active_fraction": round(float(s.active_fraction.mean()), 4), "dead_units": s.num_dead}
    if len(set(test.label_names)) > 1 and test.name.split("/")[0] not in GENERATED:
        n = min(len(train), 5000)
        probes = classify.compare_features(handle, train.images[:n], train.labels[:n], test.images, test.labels)
        m["accuracy"] = {p.features: round(p.accuracy, 4) for p in probes}
        m["accuracy_dims"] = {p.features: p.dims for p in probes}
    return m


# ---- recipes ----------------------------------------------------------------------------------------------------

def run(r: AeRecipe, *, progress: Progress | None = None, out_dir: Path | None = None) -> tuple[
        TorchAutoencoder, dict]:
    """Train one recipe, evaluate it on the held-out split, write weights + card to `out_dir` when given."""
    start = time.perf_counter()
    train, test = holdout(r.dataset, seed=r.seed, train_size=r.train_size)
    model, history, done = fit(r, train.images, progress)
    train_seconds = time.perf_counter() - start
    _round_to_float16(model)
    card = _card(r, model, train, {}, history, done, train_seconds)
    handle = handle_for(model, card, f"bundled:{r.name}")
    with _threads(r.threads):
        card["metrics"] = {**evaluate(handle, train, test), "history": history}
    card["recipe"]["wall_seconds_total"] = round(time.perf_counter() - start, 1)
    if out_dir is not None:
        save(copy.deepcopy(model).half(), card, Path(out_dir))
    return handle, card


def _card(r: AeRecipe, model: Autoencoder, train: Dataset, metrics: dict, history: list, steps_done: int,
          seconds: float) -> dict:
    cfg = model.cfg
    recipe = {k: v for k, v in asdict(r).items() if k not in ("name", "title", "description", "seed", "dataset",
                                                                "hidden", "conv_channels", "decoder", "latent_dim")}
    return {
        "name": r.name,
        "title": r.title or r.name,
        "kind": r.kind,
        "description": r.description,
        "architecture": config_dict(cfg),
        "num_params": num_params(model),
        "preprocess": {"size": list(cfg.image_size), "in_chans": cfg.in_chans, "range": "[0, 1], light on dark"},
        "class_names": list(train.label_names),
        "seed": r.seed,
        "data": {"dataset": r.dataset, "train_images": len(train),
                 "split": (f"generated: {len(train)} sprites from data_seed(seed, 'train'); held out: the "
                           "registered 'sprites' set" if r.dataset in GENERATED else
                           f"stratified {1 - TEST_FRACTION:.0%}/{TEST_FRACTION:.0%}, random_state={SPLIT_SEED}")},
        "recipe": {**recipe, "steps_done": steps_done, "optimizer": "AdamW", "schedule": "linear warm-up, cosine",
                   "loss": {"ae": "squared error", "sae": f"{r.recon} + lambda x {r.sparsity} sparsity",
                            "vae": "binary cross-entropy + beta x KL"}[r.kind], "wall_seconds_training":
                   round(seconds, 1), "weights": "float16"},
        "metrics": metrics,
        "trained_with": {"command": command_line(), "python": platform.python_version(),
                         "torch": torch.__version__, "numpy": np.__version__, "threads": r.threads,
                         "date": time.strftime("%Y-%m-%d")},
    }


def _recipe(kind: str, name: str | None, overrides: dict) -> AeRecipe:
    """The recipe for one model: the bundled recipe of that kind for the data set, with `overrides` applied."""
    given = {k: v for k, v in overrides.items() if v is not None}
    dataset = given.get("dataset", "digits")
    if dataset in GENERATED:  # convolutional, as the bundled sprite VAEs
        base = replace(BUNDLE["vae_10d"], kind=kind, recon="bce" if kind == "vae" else "mse")
    else:
        base = {"ae": BUNDLE["ae_16d"], "sae": BUNDLE["sae_l1"], "vae": BUNDLE["vae_digits_16d"]}[kind]
    r = replace(base, **given)
    default = f"{kind}_{r.dataset}_{r.latent_dim}d" + (f"_beta{r.beta:g}" if kind == "vae" else "")
    title = f"{kind.upper()} · {r.dataset} · {r.latent_dim}-d" + (f", β={r.beta:g}" if kind == "vae" else "")
    return replace(r, name=name or default, title=title, description=f"Trained with `vizcore train {kind}`.")


def train_ae(*, latent_dim: int = 16, dataset: str = "digits", seed: int = 0, steps: int | None = None,
             name: str | None = None, progress: Progress | None = None, out_dir: Path | None = None):
    """Train an autoencoder with a `latent_dim` bottleneck; returns (handle, model card)."""
    r = _recipe("ae", name, dict(latent_dim=latent_dim, dataset=dataset, seed=seed, steps=steps))
    return run(r, progress=progress, out_dir=out_dir)


def train_sae(*, units: int = 128, sparsity: str = "l1", sparsity_weight: float | None = None, topk: int = 8,
              dataset: str = "digits", seed: int = 0, steps: int | None = None, name: str | None = None,
              progress: Progress | None = None, out_dir: Path | None = None):
    """Train a sparse autoencoder with `units` code units ("l1", "kl" or "topk" sparsity)."""
    default_weight = {"l1": 0.05, "kl": 1.0, "topk": 0.0}[sparsity]
    r = _recipe("sae", name, dict(latent_dim=units, sparsity=sparsity, topk=topk, dataset=dataset, seed=seed,
                                  steps=steps, sparsity_weight=default_weight if sparsity_weight is None
                                  else sparsity_weight))
    return run(r, progress=progress, out_dir=out_dir)


def train_vae(*, beta: float = 1.0, latent_dim: int = 10, dataset: str = "sprites", seed: int = 0,
              steps: int | None = None, name: str | None = None, progress: Progress | None = None,
              out_dir: Path | None = None):
    """Train a VAE with a `latent_dim` latent and KL weight `beta`."""
    r = _recipe("vae", name, dict(beta=beta, latent_dim=latent_dim, dataset=dataset, seed=seed, steps=steps))
    return run(r, progress=progress, out_dir=out_dir)


def train_bundled(kind: str, *, out_dir: Path, progress_factory=None, names: list[str] | None = None) -> list[dict]:
    """Re-train every bundled model of `kind` exactly as shipped; returns their cards."""
    cards = []
    for name, r in BUNDLE.items():
        if r.kind == kind and (names is None or name in names):
            _, card = run(r, progress=progress_factory(name) if progress_factory else None, out_dir=out_dir)
            cards.append(card)
    return cards


# ---- in-app training --------------------------------------------------------------------------------------------

QUICK = {"ae": dict(hidden=(128, 64)), "sae": dict(hidden=(), decoder="linear", sparsity="l1",
                                                    sparsity_weight=0.05),
         "vae": dict(hidden=(128, 64), recon="bce", kl_warmup=0.3)}


def train_quick(kind: str, *, latent_dim: int = 8, steps: int = 600, dataset: str = "digits", seed: int = 0,
                beta: float = 1.0, progress: Progress | None = None) -> tuple[TorchAutoencoder, list[dict], dict]:
    """A short run for the app (digits: ~5-15 s on one core): returns (handle, loss history, held-out metrics).

    `progress(step, total, metrics)` sees the running loss after every step; returning False stops early and the
    partly trained model is returned (its card records `steps_done`).
    """
    if kind not in QUICK:
        raise InputError(f"Unknown model kind '{kind}'. Use ae, sae or vae.")
    if dataset in GENERATED:
        raise InputError("In-app training uses a registered data set such as digits; sprites take minutes.")
    if not 1 <= latent_dim <= 256 or not 10 <= steps <= 5000:
        raise InputError("Pick a latent size between 1 and 256 and between 10 and 5000 steps.")
    r = AeRecipe(name=f"session_{kind}", kind=kind, dataset=dataset, latent_dim=latent_dim, steps=steps,
                 seed=seed, beta=beta, warmup_steps=20, **QUICK[kind])
    train, test = holdout(dataset)
    model, history, done = fit(r, train.images, progress)
    card = _card(r, model, train, {}, history, done, 0.0)
    card["title"] = f"{kind.upper()} trained here ({latent_dim}-d, {done} steps)"
    handle = handle_for(model, card, f"session:{kind}")
    x = handle.prepare(test.images)
    metrics = {"heldout_mse": float(latent.reconstruction_mse(handle, x).mean()), "steps_done": done}
    return handle, history, metrics
