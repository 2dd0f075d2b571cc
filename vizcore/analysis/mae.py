"""Masked-autoencoder reconstructions: masking strategies and the paper's four demo panels.

`reconstruct` follows the official algorithm exactly: per-patch noise, argsort, keep the int(L * (1 - ratio))
patches with the smallest noise. Strategies only shape the noise, so the same noise gives the same mask and
prediction as the release. Focused masking (in the spirit of FocusMAE, Basu et al., CVPR 2024) adds
`strength x region` to that noise, so a region of interest (a rectangle, or a ViT's attention rollout) sorts
toward the hidden end (or the kept end) of the shuffle while the kept count stays int(L * (1 - ratio)).

`model` is an `MaeViT` (from `vc.load_model`, which knows the pixel normalisation the MAE was trained with)
or a bare `MaskedAutoencoder` (pixels fed as they are).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vizcore.errors import InputError
from vizcore.models.mae.handle import MaeViT, wrap
from vizcore.models.mae.model import MaeConfig, MaskedAutoencoder, patchify, random_masking, unpatchify

STRATEGIES = ("random", "block", "grid")

PANEL_TITLES = ("original", "masked (what the encoder sees)", "reconstruction (visible: untrained)",
                "reconstruction + visible")
"""The paper's four panels. The decoder predicts every patch but its loss covers only the hidden ones, so its
output over the visible patches (in the third panel) was never trained; the fourth pastes the true ones back."""

FLAT_ROLLOUT = 1.0
"""A rollout none of whose patches holds twice the uniform share (`attention.deviation_from_uniform` below 1) is
flat: the focus region it gives is close to arbitrary, and focused masking close to random masking."""


@dataclass(frozen=True)
class MaeResult:
    """One reconstruction of a batch.

    Attributes:
        pred: (B, L, p*p*C) predicted pixels of every patch (un-normalised for display under norm_pix_loss).
        mask: (B, L) 1 = hidden from the encoder.
        ids_restore: (B, L) the inverse of the noise shuffle.
        original, masked, reconstruction, pasted: (B, C, H, W) in [0, 1]: the paper's four panels.
        patch_error: (B, gh, gw) mean squared error of each patch's prediction.
    """

    pred: torch.Tensor
    mask: torch.Tensor
    ids_restore: torch.Tensor
    original: torch.Tensor
    masked: torch.Tensor
    reconstruction: torch.Tensor
    pasted: torch.Tensor
    patch_error: torch.Tensor

    @property
    def kept(self) -> int:
        return int((self.mask[0] == 0).sum())


def strategy_noise(strategy: str, batch: int, grid: int, *, seed: int = 0) -> torch.Tensor:
    """Noise (B, L) whose argsort gives the strategy's mask: lower noise = kept first.

    random: uniform noise (the paper). block: BEiT-style, the patches of a few random rectangles get high noise
    so they are hidden together. grid: one patch per 2x2 cell gets low noise (kept), as in the paper's grid ablation.
    """
    if strategy not in STRATEGIES:
        raise InputError(f"Unknown masking strategy '{strategy}'. Use one of {', '.join(STRATEGIES)}.")
    g = torch.Generator().manual_seed(seed)
    noise = torch.rand(batch, grid, grid, generator=g)  # (B, gh, gw)
    if strategy == "block":
        for b in range(batch):
            for _ in range(max(1, grid // 2)):
                h, w = (int(v) for v in torch.randint(1, max(2, grid // 2) + 1, (2,), generator=g))
                r, c = (int(v) for v in torch.randint(0, grid - min(h, grid) + 1, (2,), generator=g))
                noise[b, r:r + h, c:c + w] += 1.0  # hidden before any patch outside a block
    elif strategy == "grid":
        keep = torch.zeros(grid, grid, dtype=torch.bool)
        keep[::2, ::2] = True
        noise = noise + (~keep).float()  # the kept grid sorts first
    return noise.flatten(1)  # (B, L)


def focus_noise(noise: torch.Tensor, region: torch.Tensor, *, strength: float = 1.0,
                hide: bool = True) -> torch.Tensor:
    """Bias noise (B, L) toward a region of interest (B, gh, gw) or (gh, gw) with weights in [0, 1].

    Adds `strength * region` (hide=True: the region is hidden first) or subtracts it (hide=False: the region is
    kept first). With uniform noise in [0, 1), strength 1 and a 0/1 region, every region patch sorts after (or
    before) every other patch; smaller strengths only tilt the odds.
    """
    if not 0.0 <= strength <= 10.0:
        raise InputError(f"Focus strength must be between 0 and 10, got {strength}.")
    r = region.float().reshape(-1, noise.shape[1])  # (B or 1, L)
    return noise + (1.0 if hide else -1.0) * strength * r


def rectangle_region(grid: int, top: int, left: int, bottom: int, right: int) -> torch.Tensor:
    """(grid, grid) 0/1 map of the patches in rows top..bottom-1 and columns left..right-1 (patch units)."""
    if not (0 <= top < bottom <= grid and 0 <= left < right <= grid):
        raise InputError(f"The focus rectangle rows {top}-{bottom}, columns {left}-{right} must lie inside the "
                         f"{grid}x{grid} patch grid and be non-empty.")
    region = torch.zeros(grid, grid)
    region[top:bottom, left:right] = 1.0
    return region


def attention_region(rollout: torch.Tensor, grid: int) -> torch.Tensor:
    """A ViT rollout map (B, gh, gw) resampled to the MAE grid and scaled to [0, 1] per image (max = 1)."""
    r = rollout.float()[:, None]  # (B, 1, gh, gw)
    if tuple(r.shape[-2:]) != (grid, grid):
        r = torch.nn.functional.interpolate(r, size=(grid, grid), mode="area")
    r = r[:, 0] - r[:, 0].amin((1, 2), keepdim=True)
    return r / r.amax((1, 2), keepdim=True).clamp_min(1e-12)  # (B, grid, grid)


def kept_count(num_patches: int, mask_ratio: float) -> int:
    """The paper's number of visible patches: int(L * (1 - ratio))."""
    return int(num_patches * (1 - mask_ratio))


def reconstruct(model, images, *, mask_ratio: float = 0.75, strategy: str = "random", seed: int = 0,
                noise: torch.Tensor | None = None, unnormalize: str = "visible") -> MaeResult:
    """Mask, encode, decode and assemble the four panels for images (B, C, H, W) in [0, 1] (or PIL images).

    Args:
        noise: (B, L) overrides `strategy`/`seed` (the official algorithm with the same noise gives the same
            result).
        unnormalize: under norm_pix_loss the model predicts per-patch normalised pixels. "visible" restores them
            with the mean/std of the visible patches (no information leak); "true" uses each hidden patch's own
            statistics, as the paper's demo does, which leaks information about the hidden patch.
    """
    if not 0.0 <= mask_ratio < 1.0:
        raise InputError(f"mask_ratio must be in [0, 1), got {mask_ratio}.")
    handle = _as_handle(model)
    mae, cfg = handle.require_decoder(), handle.cfg
    x = handle.prepare(images)  # (B, C, H, W) in [0, 1] at the MAE's size
    B = x.shape[0]
    if noise is None:
        noise = strategy_noise(strategy, B, cfg.grid, seed=seed)
    if tuple(noise.shape) != (B, cfg.grid ** 2):
        raise InputError(f"noise must have shape ({B}, {cfg.grid ** 2}), got {tuple(noise.shape)}.")
    xn = handle.normalize(x)
    with handle.lock, torch.inference_mode():
        _, pred, mask, ids_restore = mae(xn, mask_ratio=mask_ratio, noise=noise)
    target = patchify(xn, cfg.patch_size)  # (B, L, p*p*C) in the model's normalised space
    if cfg.norm_pix_loss:
        pred = _unnormalize(pred, target, mask, unnormalize)
    pred = handle.denormalize(pred.reshape(B, cfg.grid ** 2, -1, cfg.in_chans)).flatten(2)  # back to [0, 1] pixels
    return _panels(x, pred, mask, ids_restore, patchify(x, cfg.patch_size), cfg)


def _as_handle(model):
    """An MaeViT as is; a bare MaskedAutoencoder wrapped with identity normalisation."""
    return model if isinstance(model, MaeViT) else wrap(model)


def _unnormalize(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    if how == "true":
        mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)  # (B, L, 1): leaks
    elif how == "visible":
        vis = (1 - mask)[..., None]  # (B, L, 1)
        n = (vis.sum(1, keepdim=True) * target.shape[-1]).clamp_min(1)
        mean = (target * vis).sum((1, 2), keepdim=True) / n  # (B, 1, 1)
        var = (((target - mean) ** 2) * vis).sum((1, 2), keepdim=True) / n
    else:
        raise InputError(f"Unknown un-normalisation '{how}'. Use 'visible' or 'true'.")
    return pred * (var + 1e-6) ** 0.5 + mean


def _panels(images, pred, mask, ids_restore, target, cfg: MaeConfig) -> MaeResult:
    p, grid, C = cfg.patch_size, (cfg.grid, cfg.grid), cfg.in_chans
    m = mask[..., None]  # (B, L, 1)
    recon = unpatchify(pred, p, grid, C).clamp(0, 1)
    masked = unpatchify(target * (1 - m) + 0.5 * m, p, grid, C)  # hidden patches grey
    pasted = unpatchify(target * (1 - m) + pred.clamp(0, 1) * m, p, grid, C)
    error = ((pred - target) ** 2).mean(-1).reshape(-1, *grid)  # (B, gh, gw)
    return MaeResult(pred, mask, ids_restore, images, masked, recon, pasted, error)


__all__ = ["FLAT_ROLLOUT", "PANEL_TITLES", "STRATEGIES", "MaeConfig", "MaeResult", "MaskedAutoencoder",
           "attention_region", "focus_noise", "kept_count", "patchify", "random_masking", "reconstruct",
           "rectangle_region", "strategy_noise", "unpatchify"]
