"""Reproducible training recipes for the bundled models (today: `tiny_vit`, a timm ViT on shapes in clutter).

The recipe trains a plain timm VisionTransformer (learned absolute position embeddings, CLS token) on scenes
from `vizcore.data.scenes`, drawing fresh scenes every epoch so there is no fixed training set to memorise. A
training-only head also regresses the object's centre from the CLS feature: shape labels do not depend on
position, and without that signal the position embeddings learned only which border a patch touches, with no
2-D locality (measured). The recipe writes `<out>/tiny_vit.safetensors` plus a JSON model card (architecture,
preprocessing, data, recipe, metrics, versions) that `vizcore.models.bundled` loads. Progress is reported
through a callback; `tqdm_progress` turns it into a terminal progress bar.

    vizcore train vit --out assets/models
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vizcore.analysis import attention
from vizcore.data.scenes import CLUTTER, SHAPES, Scenes, data_seed, make_scenes
from vizcore.models.protocols import ModelInfo, Preprocess, ViTHandle
from vizcore.models.vit import TimmViT, build_timm_vit
from vizcore.train.loop import Progress, command_line, lr_factor, save, tqdm_progress

NAME = "tiny_vit"
MEAN = STD = (0.5, 0.5, 0.5)  # x -> 2x - 1; the model card tells the handle to do the same
OBJECT_PATCH_RULE = "a patch is an object patch when >= 50% of its pixels are object pixels"

DEFAULT_ARCH = {
    "img_size": 64,        # scenes are 64 x 64
    "patch_size": 8,       # an 8 x 8 patch grid: enough cells for position embeddings to show 2-D locality
    "in_chans": 3,
    "embed_dim": 128,
    "depth": 4,
    "num_heads": 4,
    "mlp_ratio": 4.0,
    "num_classes": len(SHAPES),
    "class_token": True,   # rollout reads the CLS row; the head classifies from it
    "reg_tokens": 0,
    "global_pool": "token",
}


@dataclass(frozen=True)
class VitRecipe:
    """Everything that determines the trained tiny ViT (with the seed it is fully reproducible on one machine)."""

    seed: int = 0                 # torch init and every data seed derive from it
    epochs: int = 10              # passes over freshly drawn scenes (about 16 min on 2 busy CPU cores)
    steps_per_epoch: int = 300    # x batch_size = 19,200 new scenes per epoch
    batch_size: int = 64          # measured: more, smaller steps beat 128-256 per CPU second on this task
    lr: float = 1e-3              # AdamW peak; 2e-3 (or 1e-3 without warm-up) sat at chance for 300+ steps
    weight_decay: float = 0.05    # on weight matrices only (not norms, biases, position embedding, CLS)
    warmup_steps: int = 200       # linear warm-up, then cosine decay to min_lr_ratio * lr
    min_lr_ratio: float = 0.01
    label_smoothing: float = 0.1
    grad_clip: float = 1.0        # max global grad norm: guards the first steps
    centre_loss: float = 0.5      # weight of a training-only auxiliary loss: regress the object's centre from the
                                  # CLS feature (the small head is discarded). Shape labels are translation
                                  # invariant, so without it the position embeddings learned only "which border".
    clutter: float = CLUTTER      # `make_scenes` clutter: mild texture, ~2 small distractors per scene
    test_size: int = 2000         # held-out scenes from the "test" seed, scored after training
    eval_every: int = 2           # epochs between held-out accuracy checks on 500 test scenes (for the curve)
    arch: dict = field(default_factory=lambda: dict(DEFAULT_ARCH))


def train_vit(*, seed: int = 0, epochs: int | None = None, steps_per_epoch: int | None = None,
              batch_size: int | None = None, arch: dict | None = None, recipe: VitRecipe | None = None,
              progress: Progress | None = None, out_dir: Path | None = None) -> tuple[nn.Module, dict]:
    """Train the bundled tiny ViT and return (model in eval mode, model card).

    Args:
        seed, epochs, steps_per_epoch, batch_size: override the recipe's fields.
        arch: keys overriding `DEFAULT_ARCH` (e.g. a tiny model for smoke tests).
        recipe: the base recipe (default `VitRecipe()`).
        progress: called after every optimiser step with (step, total_steps, running metrics).
        out_dir: when given, writes `tiny_vit.safetensors` and `tiny_vit.json` there.
    """

    r = recipe or VitRecipe()
    given = {"seed": seed, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch_size": batch_size}
    r = replace(r, **{k: v for k, v in given.items() if v is not None}, arch={**r.arch, **(arch or {})})
    start = time.perf_counter()
    model, history = _fit(r, progress)
    train_seconds = time.perf_counter() - start
    test = make_scenes(r.test_size, seed=data_seed(r.seed, "test"), size=r.arch["img_size"], clutter=r.clutter)
    metrics = evaluate_vit(model, test)
    torch.manual_seed(r.seed)  # the same initial weights the run started from: what rollout gives before training
    metrics["rollout_ratio_at_init"] = evaluate_vit(build_timm_vit(r.arch), test)["rollout_ratio"]
    card = model_card(r, model, metrics, history, train_seconds, time.perf_counter() - start)
    if out_dir is not None:
        save(model, card, Path(out_dir))
    return model, card


def _fit(r: VitRecipe, progress: Progress | None) -> tuple[nn.Module, list[dict]]:
    """The training loop: AdamW, warm-up + cosine, label smoothing, fresh scenes every epoch."""

    torch.manual_seed(r.seed)
    model = build_timm_vit(r.arch)
    centre_head = nn.Linear(r.arch["embed_dim"], 2)  # (B, D) -> (B, 2) object centre (x, y) in [-1, 1]
    groups = _param_groups(model, r.weight_decay) + [{"params": centre_head.parameters(), "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=r.lr, betas=(0.9, 0.999))
    total = r.epochs * r.steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, total, r.warmup_steps, r.min_lr_ratio))
    probe = make_scenes(min(500, r.test_size), seed=data_seed(r.seed, "test"), size=r.arch["img_size"],
                        clutter=r.clutter)
    history: list[dict] = []
    step, run_loss, run_acc = 0, math.log(len(SHAPES)), 1.0 / len(SHAPES)
    for epoch in range(r.epochs):
        model.train()
        losses, hits, seen = 0.0, 0, 0
        for images, labels, centres in epoch_batches(r, epoch):
            feats = model.forward_head(model.forward_features(normalize(images)), pre_logits=True)  # (B, D)
            logits = model.head(feats)  # (B, K), exactly model(x)
            loss = F.cross_entropy(logits, labels, label_smoothing=r.label_smoothing)
            if r.centre_loss > 0:
                loss = loss + r.centre_loss * F.smooth_l1_loss(centre_head(feats), centres, beta=0.1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_([*model.parameters(), *centre_head.parameters()], r.grad_clip)
            opt.step()
            sched.step()
            step += 1
            acc = (logits.argmax(1) == labels).float().mean().item()
            run_loss, run_acc = 0.95 * run_loss + 0.05 * loss.item(), 0.95 * run_acc + 0.05 * acc
            losses, hits, seen = losses + loss.item() * len(labels), hits + acc * len(labels), seen + len(labels)
            if progress is not None:
                progress(step, total, {"epoch": epoch + 1, "loss": run_loss, "acc": run_acc,
                                       "lr": sched.get_last_lr()[0]})
        row = {"epoch": epoch + 1, "step": step, "train_loss": round(losses / seen, 4),
               "train_acc": round(hits / seen, 4)}
        if (epoch + 1) % r.eval_every == 0 or epoch + 1 == r.epochs:
            row["probe_acc"] = round(accuracy(model, probe), 4)
        history.append(row)
    return model.eval(), history


def epoch_batches(r: VitRecipe, epoch: int, block: int = 16) -> Iterator[tuple[torch.Tensor, ...]]:
    """Fresh (images, labels, object centres) for one epoch, drawn `block` batches at a time while the previous
    block trains."""
    n_blocks = math.ceil(r.steps_per_epoch / block)

    def draw(b: int) -> Scenes:
        steps = min(block, r.steps_per_epoch - b * block)
        return make_scenes(steps * r.batch_size, seed=data_seed(r.seed, "train", epoch, b),
                           size=r.arch["img_size"], clutter=r.clutter)

    with ThreadPoolExecutor(max_workers=1) as pool:  # numpy releases the GIL: drawing overlaps training
        pending = pool.submit(draw, 0)
        for b in range(n_blocks):
            scenes = pending.result()
            if b + 1 < n_blocks:
                pending = pool.submit(draw, b + 1)
            centres = object_centres(scenes.masks)  # (N, 2)
            for i in range(0, len(scenes), r.batch_size):
                sl = slice(i, i + r.batch_size)
                yield scenes.images[sl], scenes.labels[sl], centres[sl]


def object_centres(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) object masks -> (N, 2) centroid (x, y) of the visible object, scaled to [-1, 1]."""
    N, H, W = masks.shape
    m = masks.float()
    area = m.flatten(1).sum(1).clamp_min(1.0)  # (N,)
    x = (m.sum(1) * (torch.arange(W) + 0.5)).sum(1) / area  # (N,) mean column, in pixels
    y = (m.sum(2) * (torch.arange(H) + 0.5)).sum(1) / area  # (N,) mean row, in pixels
    return torch.stack([2 * x / W - 1, 2 * y / H - 1], dim=1)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only; norms, biases, position embedding and CLS token are not decayed."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or name in ("pos_embed", "cls_token", "reg_token") else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def normalize(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> normalised with the card's mean/std (what `TimmViT.normalize` does)."""
    mean = torch.tensor(MEAN, dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=images.dtype).view(1, 3, 1, 1)
    return (images - mean) / std


def accuracy(model: nn.Module, scenes: Scenes, batch_size: int = 500) -> float:
    """Top-1 accuracy of `model` on `scenes` (puts the model in eval mode)."""
    return float(_predict(model, scenes, batch_size).eq(scenes.labels).float().mean())


def _predict(model: nn.Module, scenes: Scenes, batch_size: int) -> torch.Tensor:
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(normalize(scenes.images[i:i + batch_size])).argmax(1)
                          for i in range(0, len(scenes), batch_size)])  # (N,)


def evaluate_vit(model, scenes: Scenes, *, batch_size: int = 250) -> dict:
    """Held-out accuracy and how much attention-rollout mass lands on the object.

    For each scene, the rollout map (B, gh, gw) sums to 1 over patches; `object_mass` is its sum over object
    patches (see `OBJECT_PATCH_RULE`) and `object_share` the fraction of patches that are object patches.
    `rollout_ratio` is the mean over scenes of object_mass / object_share: 1 means attention ignores the object,
    higher means it concentrates there. Scenes with no object patch are skipped (`rollout_scenes` counts the rest).

    Args:
        model: a trained timm ViT (nn.Module, normalised with `MEAN`/`STD`) or a `TimmViT`.
        scenes: labelled scenes with object masks.
    """

    handle = model if isinstance(model, ViTHandle) else _handle(model)
    preds = _predict(handle.module, scenes, 500)
    correct = preds.eq(scenes.labels)
    ratios, masses, shares = [], [], []
    for i in range(0, len(scenes), batch_size):
        grid = attention.rollout(attention.capture(handle, scenes.images[i:i + batch_size]))  # (B, gh, gw)
        obj = object_patches(scenes.masks[i:i + batch_size], tuple(grid.shape[-2:]))  # (B, gh, gw) bool
        share = obj.flatten(1).float().mean(1)  # (B,)
        mass = (grid * obj).flatten(1).sum(1)  # (B,)
        keep = share > 0
        ratios.append(mass[keep] / share[keep])
        masses.append(mass[keep])
        shares.append(share[keep])
    ratio, mass, share = torch.cat(ratios), torch.cat(masses), torch.cat(shares)
    per_class = {name: round(float(correct[scenes.labels == k].float().mean()), 4)
                 for k, name in enumerate(scenes.class_names) if (scenes.labels == k).any()}
    return {
        "accuracy": round(float(correct.float().mean()), 4),
        "per_class_accuracy": per_class,
        "rollout_ratio": round(float(ratio.mean()), 3),
        "rollout_ratio_median": round(float(ratio.median()), 3),
        "object_mass": round(float(mass.mean()), 4),
        "object_share": round(float(share.mean()), 4),
        "rollout_scenes": int(ratio.numel()),
        "scenes": len(scenes),
    }


def object_patches(masks: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(B, H, W) object masks -> (B, gh, gw) bool: patches at least half covered by the object."""
    B, H, W = masks.shape
    gh, gw = grid
    cover = masks.float().reshape(B, gh, H // gh, gw, W // gw).mean(dim=(2, 4))  # (B, gh, gw) in [0, 1]
    return cover >= 0.5


def _handle(module: nn.Module):
    size = tuple(int(s) for s in module.patch_embed.img_size)
    info = ModelInfo(f"bundled:{NAME}", "Tiny ViT (in training)", "vit")
    return TimmViT(module, info, Preprocess(size=size, mean=MEAN, std=STD, dynamic_size=True))


def model_card(r: VitRecipe, model: nn.Module, metrics: dict, history: list[dict], train_seconds: float,
               wall_seconds: float) -> dict:
    """The JSON model card `vizcore.models.bundled` reads (plus everything needed to reproduce the weights)."""
    import timm

    recipe = {k: v for k, v in asdict(r).items() if k not in ("arch", "seed", "clutter", "test_size")}
    return {
        "name": NAME,
        "title": "Tiny ViT (shapes in clutter)",
        "kind": "vit",
        "description": (f"A {r.arch['depth']}-layer, {r.arch['embed_dim']}-dim ViT (8x8 patches of a 64 px scene) "
                        f"trained here on CPU to name which of {len(SHAPES)} shapes hides in a cluttered scene."),
        "architecture": dict(r.arch),
        "num_params": sum(p.numel() for p in model.parameters()),
        "preprocess": {"size": [r.arch["img_size"]] * 2, "mean": list(MEAN), "std": list(STD)},
        "class_names": list(SHAPES),
        "seed": r.seed,
        "data": {
            "generator": "vizcore.scenes.make_scenes",
            "params": {"size": r.arch["img_size"], "clutter": r.clutter},
            "train": {"scenes_per_epoch": r.steps_per_epoch * r.batch_size, "fresh_each_epoch": True,
                      "seeds": "data_seed(seed, 'train', epoch, block) per block of 16 batches"},
            "test": {"seed": data_seed(r.seed, "test"), "size": r.test_size},
        },
        "recipe": {**recipe, "optimizer": "AdamW(betas=(0.9, 0.999))", "schedule": "linear warm-up, cosine",
                   "loss": "cross-entropy with label smoothing + centre_loss * smooth-L1(beta=0.1) of the object "
                           "centroid (x, y in [-1, 1]) regressed from the CLS feature by a training-only linear "
                           "head (discarded; not in the weights)",
                   "augmentations": "none beyond fresh procedural scenes each epoch (no flips / rotations, so "
                                    "position stays meaningful)",
                   "wall_seconds_training": round(train_seconds, 1), "wall_seconds_total": round(wall_seconds, 1)},
        "metrics": {**metrics, "object_patch_rule": OBJECT_PATCH_RULE, "rollout": "mean head fusion, no discard",
                    "history": history},
        "trained_with": {"command": command_line(), "python": platform.python_version(),
                         "torch": torch.__version__, "timm": timm.__version__, "numpy": np.__version__,
                         "threads": torch.get_num_threads(), "machine": platform.machine(),
                         "date": time.strftime("%Y-%m-%d")},
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m vizcore.train", description="Train a bundled vizcore model.",
                                epilog="Example: python -m vizcore.train vit --out assets/models")
    p.add_argument("recipe", choices=["vit"])
    p.add_argument("--out", type=Path, default=Path("assets/models"), help="folder for weights + model card")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    p.add_argument("--steps-per-epoch", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    args = p.parse_args(argv)
    _, card = train_vit(seed=args.seed, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                        batch_size=args.batch_size, progress=tqdm_progress(), out_dir=args.out)
    m = card["metrics"]
    print(f"wrote {args.out / (NAME + '.safetensors')} in {card['recipe']['wall_seconds_total']:.0f} s: "
          f"held-out accuracy {m['accuracy']:.3f}, rollout ratio {m['rollout_ratio']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
