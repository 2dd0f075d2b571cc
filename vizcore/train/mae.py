"""The bundled MAE's recipe: a small masked autoencoder trained here, on CPU, at the paper's mask ratio 0.75.

Same data as the tiny ViT (`vizcore.scenes`, 64 px, fresh scenes every epoch) and the same 8x8 patch grid, so
the tiny ViT's attention rollout can steer the MAE's focused masking patch for patch. The loss is the paper's
(mean squared error on hidden patches only) on plain pixels in [0, 1] (`norm_pix_loss=False`), so predictions
display as they are. Writes `<out>/tiny_mae.safetensors` and a JSON model card (architecture, data, recipe,
held-out metrics against simple fill-in baselines, versions).

    vizcore train mae --out assets/models       # the same as `python -m vizcore.train_mae`
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from vizcore.data.scenes import data_seed, make_scenes
from vizcore.models.mae.model import MaeConfig, MaskedAutoencoder, patchify
from vizcore.train.loop import Progress, command_line, lr_factor, save, tqdm_progress
from vizcore.train.vit import epoch_batches

NAME = "tiny_mae"
DEFAULT_ARCH = MaeConfig(img_size=64, patch_size=8, in_chans=3, embed_dim=128, depth=4, num_heads=4,
                         decoder_embed_dim=96, decoder_depth=2, decoder_num_heads=4, mlp_ratio=4.0,
                         norm_pix_loss=False)
EVAL_RATIOS = (0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class MaeRecipe:
    """Everything that determines the bundled MAE (with the seed it is reproducible on one machine)."""

    seed: int = 0
    epochs: int = 10              # passes over freshly drawn scenes (about 40 min on 2 busy cores, 1 thread)
    steps_per_epoch: int = 300    # x batch_size new scenes per epoch
    batch_size: int = 128
    mask_ratio: float = 0.75      # the paper's default
    lr: float = 1.5e-3            # AdamW peak (the paper: 1.5e-4 x batch / 256 for ViT-B; tiny models take more)
    weight_decay: float = 0.05    # on weight matrices only
    betas: tuple[float, float] = (0.9, 0.95)  # the paper's
    warmup_steps: int = 300
    min_lr_ratio: float = 0.01
    clutter: float = 0.5          # the tiny ViT's scenes
    test_size: int = 1000         # held-out scenes from the "test" seed
    arch: dict = field(default_factory=lambda: DEFAULT_ARCH.to_dict())


def train_mae(*, seed: int = 0, epochs: int | None = None, steps_per_epoch: int | None = None,
              arch: dict | None = None, recipe: MaeRecipe | None = None, progress: Progress | None = None,
              out_dir: Path | None = None) -> tuple[MaskedAutoencoder, dict]:
    """Train the bundled MAE; returns (model in eval mode, model card) and writes both to `out_dir` when given."""
    r = recipe or MaeRecipe()
    given = {"seed": seed, "epochs": epochs, "steps_per_epoch": steps_per_epoch}
    r = replace(r, **{k: v for k, v in given.items() if v is not None}, arch={**r.arch, **(arch or {})})
    start = time.perf_counter()
    model, history = _fit(r, progress)
    train_seconds = time.perf_counter() - start
    test = make_scenes(r.test_size, seed=data_seed(r.seed, "test"), size=r.arch["img_size"], clutter=r.clutter)
    metrics = {**evaluate_mae(model, test.images, seed=r.seed), "history": history}
    card = model_card(r, model, metrics, train_seconds, time.perf_counter() - start)
    if out_dir is not None:
        save(model, card, Path(out_dir))
    return model, card


def _fit(r: MaeRecipe, progress: Progress | None) -> tuple[MaskedAutoencoder, list[dict]]:
    """AdamW with warm-up + cosine; the paper's loss on hidden patches; fresh scenes each epoch."""
    torch.manual_seed(r.seed)
    model = MaskedAutoencoder(MaeConfig(**r.arch))
    decay = [p for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2 and "token" not in n]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and (p.ndim < 2 or "token" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": r.weight_decay}, {"params": rest, "weight_decay": 0}],
                            lr=r.lr, betas=r.betas)
    total = r.epochs * r.steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, r.warmup_steps, r.min_lr_ratio))
    history, step, run_loss = [], 0, None
    for epoch in range(r.epochs):
        model.train()
        losses, seen = 0.0, 0
        for images, _, _ in epoch_batches(r, epoch):
            loss, _, _, _ = model(images, mask_ratio=r.mask_ratio)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            run_loss = loss.item() if run_loss is None else 0.95 * run_loss + 0.05 * loss.item()
            losses, seen = losses + loss.item(), seen + 1
            if progress is not None:
                progress(step, total, {"epoch": epoch + 1, "loss": run_loss, "lr": sched.get_last_lr()[0]})
        history.append({"epoch": epoch + 1, "step": step, "train_loss": round(losses / max(seen, 1), 5)})
    return model.eval(), history


def evaluate_mae(model: MaskedAutoencoder, images: torch.Tensor, *, seed: int = 0) -> dict:
    """Held-out MSE on hidden patches at several ratios, against two fill-ins that use no model.

    `mean_fill`: every hidden pixel gets the mean colour of the visible patches. `nearest_fill`: every hidden
    patch copies the nearest visible patch (grid distance). A useful MAE beats both at every ratio.
    """
    cfg = model.cfg
    out: dict = {"heldout_images": int(images.shape[0])}
    g = torch.Generator().manual_seed(seed)
    for ratio in EVAL_RATIOS:
        noise = torch.rand(images.shape[0], cfg.grid ** 2, generator=g)  # (B, L)
        with torch.inference_mode():
            _, pred, mask, _ = model(images, mask_ratio=ratio, noise=noise)
        target = patchify(images, cfg.patch_size)  # (B, L, p*p*C)
        row = {"mae": _hidden_mse(pred, target, mask),
               "mean_fill": _hidden_mse(_mean_fill(target, mask, cfg.in_chans), target, mask),
               "nearest_fill": _hidden_mse(_nearest_fill(target, mask, cfg.grid), target, mask)}
        out[f"ratio_{ratio}"] = {k: round(v, 5) for k, v in row.items()}
    r = out["ratio_0.75"]
    out["mse_vs_best_baseline_at_0.75"] = round(r["mae"] / min(r["mean_fill"], r["nearest_fill"]), 3)
    return out


def _hidden_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    per_patch = ((pred - target) ** 2).mean(-1)  # (B, L)
    return float((per_patch * mask).sum() / mask.sum().clamp_min(1))


def _mean_fill(target: torch.Tensor, mask: torch.Tensor, C: int) -> torch.Tensor:
    B, L, P = target.shape
    vis = (1 - mask)[..., None]  # (B, L, 1)
    pix = target.reshape(B, L, P // C, C)  # (B, L, p*p, C)
    mean = (pix * vis[..., None]).sum((1, 2)) / (vis.sum(1) * (P // C)).clamp_min(1)  # (B, C)
    return mean[:, None, None, :].expand(B, L, P // C, C).reshape(B, L, P)


def _nearest_fill(target: torch.Tensor, mask: torch.Tensor, grid: int) -> torch.Tensor:
    yx = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij"), -1).reshape(-1, 2)
    dist = torch.cdist(yx.float(), yx.float())  # (L, L)
    out = target.clone()
    for b in range(target.shape[0]):
        d = dist + mask[b][None, :] * 1e6  # hidden patches are never a source
        out[b] = target[b, d.argmin(1)]
    return out


def model_card(r: MaeRecipe, model: MaskedAutoencoder, metrics: dict, train_seconds: float,
               wall_seconds: float) -> dict:
    a = r.arch
    recipe = {k: v for k, v in asdict(r).items() if k not in ("arch", "seed", "clutter", "test_size")}
    return {
        "name": NAME,
        "title": "Tiny MAE (shapes in clutter)",
        "kind": "mae",
        "description": (f"A masked autoencoder ({a['depth']}-block, {a['embed_dim']}-wide encoder; "
                        f"{a['decoder_depth']}-block, {a['decoder_embed_dim']}-wide decoder; 8x8 patches of a "
                        f"64 px scene) trained here on CPU at mask ratio {r.mask_ratio}."),
        "architecture": dict(a),
        "num_params": sum(p.numel() for p in model.parameters()),
        "preprocess": {"size": [a["img_size"]] * 2, "mean": [0.0] * 3, "std": [1.0] * 3},
        "seed": r.seed,
        "data": {"generator": "vizcore.scenes.make_scenes", "params": {"size": a["img_size"], "clutter": r.clutter},
                 "train": {"scenes_per_epoch": r.steps_per_epoch * r.batch_size, "fresh_each_epoch": True},
                 "test": {"seed": data_seed(r.seed, "test"), "size": r.test_size}},
        "recipe": {**recipe, "optimizer": f"AdamW(betas={tuple(r.betas)})", "schedule": "linear warm-up, cosine",
                   "loss": "mean squared error on hidden patches only, pixels in [0, 1] (norm_pix_loss off)",
                   "wall_seconds_training": round(train_seconds, 1), "wall_seconds_total": round(wall_seconds, 1)},
        "metrics": metrics,
        "trained_with": {"command": command_line(), "python": platform.python_version(),
                         "torch": torch.__version__, "numpy": np.__version__, "threads": torch.get_num_threads(),
                         "date": time.strftime("%Y-%m-%d")},
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m vizcore.train_mae", description="Train the bundled MAE.",
                                epilog="Example: python -m vizcore.train_mae --out assets/models")
    p.add_argument("--out", type=Path, default=Path("assets/models"), help="folder for weights + model card")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--steps-per-epoch", type=int, default=None)
    args = p.parse_args(argv)
    _, card = train_mae(seed=args.seed, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                        progress=tqdm_progress(), out_dir=args.out)
    print(summary(card, args.out), flush=True)
    return 0


def summary(card: dict, out: Path) -> str:
    m = card["metrics"]["ratio_0.75"]
    return (f"wrote {out / (card['name'] + '.safetensors')} in {card['recipe']['wall_seconds_total']:.0f} s: "
            f"hidden-patch MSE at 0.75 {m['mae']:.4f} (mean fill {m['mean_fill']:.4f}, "
            f"nearest fill {m['nearest_fill']:.4f})")


if __name__ == "__main__":
    sys.exit(main())
