"""A masked autoencoder (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022) in plain torch.

Parameter names follow the official release (facebookresearch/mae `models_mae.py`) so its checkpoints load
strictly: `cls_token`, `pos_embed`, `patch_embed.proj.*`, `blocks.{i}.{norm1, attn.qkv, attn.proj, norm2,
mlp.fc1, mlp.fc2}.*`, `norm.*`, `mask_token`, `decoder_pos_embed`, `decoder_embed.*`, `decoder_blocks.{i}.*`,
`decoder_norm.*`, `decoder_pred.*`. Pre-norm blocks, fused qkv, exact GELU, LayerNorm eps 1e-6 (the release's;
transformers' ViTMAE uses its config's `layer_norm_eps`, 1e-12 by default: `MaeConfig.norm_eps`), fixed 2-D sin-cos
position embeddings (stored in the state dict, as in the release).

`forward` runs the paper's four stages and returns everything a visualiser needs (pred, mask, ids_restore).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from vizcore.models.sincos import sincos_2d


@dataclass(frozen=True)
class MaeConfig:
    """Architecture of an MAE. Defaults are the paper's ViT-B/16 with its 8-block, 512-wide decoder."""

    img_size: int = 224          # square input side in pixels
    patch_size: int = 16         # patch side; the grid is img_size // patch_size per side
    in_chans: int = 3
    embed_dim: int = 768         # encoder width D
    depth: int = 12              # encoder blocks
    num_heads: int = 12          # not recoverable from weights: from a card or the standard presets
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16
    mlp_ratio: float = 4.0
    norm_pix_loss: bool = False  # the loss (and so the prediction) is on per-patch normalised pixels
    norm_eps: float = 1e-6       # every LayerNorm's eps: the release's 1e-6; transformers' layer_norm_eps (1e-12)

    @property
    def grid(self) -> int:
        return self.img_size // self.patch_size

    def to_dict(self) -> dict:
        return asdict(self)


class Attention(nn.Module):
    def __init__(self, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.softmax = nn.Softmax(dim=-1)  # a named submodule so attention can be hooked

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, D = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)  # (3,B,h,N,d)
        q, k, v = qkv.unbind(0)
        attn = self.softmax((q @ k.transpose(-2, -1)) * self.scale)  # (B, h, N, N)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, D))  # (B, N, D)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) GELU, as in the release
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, in_chans: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, C, H, W) -> (B, L, D)


def _fixed_pos_embed(dim: int, grid: int) -> nn.Parameter:
    """(1, 1 + L, dim) 2-D sin-cos table with a zero CLS row, frozen (as the release stores it)."""
    table = torch.from_numpy(sincos_2d(dim, (grid, grid))).float()  # (L, dim)
    table = torch.cat([torch.zeros(1, dim), table])[None]  # (1, 1 + L, dim)
    return nn.Parameter(table, requires_grad=False)


class MaskedAutoencoder(nn.Module):
    """Encoder sees only the visible patches; a light decoder predicts the pixels of every patch."""

    def __init__(self, cfg: MaeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        D, Dd = cfg.embed_dim, cfg.decoder_embed_dim
        self.patch_embed = PatchEmbed(cfg.patch_size, cfg.in_chans, D)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = _fixed_pos_embed(D, cfg.grid)
        self.blocks = nn.ModuleList(Block(D, cfg.num_heads, cfg.mlp_ratio, cfg.norm_eps) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(D, eps=cfg.norm_eps)
        self.decoder_embed = nn.Linear(D, Dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.decoder_pos_embed = _fixed_pos_embed(Dd, cfg.grid)
        self.decoder_blocks = nn.ModuleList(
            Block(Dd, cfg.decoder_num_heads, cfg.mlp_ratio, cfg.norm_eps) for _ in range(cfg.decoder_depth))
        self.decoder_norm = nn.LayerNorm(Dd, eps=cfg.norm_eps)
        self.decoder_pred = nn.Linear(Dd, cfg.patch_size ** 2 * cfg.in_chans)

    # ---- the four stages ----------------------------------------------------------------------------------------

    def forward_encoder(self, x: torch.Tensor, noise: torch.Tensor, mask_ratio: float):
        """(B, C, H, W) -> latent (B, 1 + K, D), mask (B, L) with 1 = hidden, ids_restore (B, L)."""
        t = self.patch_embed(x) + self.pos_embed[:, 1:]  # (B, L, D)
        t, mask, ids_restore = random_masking(t, noise, mask_ratio)  # (B, K, D)
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(t.shape[0], -1, -1)
        t = torch.cat([cls, t], dim=1)  # (B, 1 + K, D)
        for blk in self.blocks:
            t = blk(t)
        return self.norm(t), mask, ids_restore

    def forward_decoder(self, latent: torch.Tensor, ids_restore: torch.Tensor) -> torch.Tensor:
        """latent (B, 1 + K, D) -> per-patch pixel predictions (B, L, p*p*C)."""
        t = self.decoder_embed(latent)  # (B, 1 + K, Dd)
        B, L = ids_restore.shape
        masks = self.mask_token.expand(B, L + 1 - t.shape[1], -1)
        full = torch.cat([t[:, 1:], masks], dim=1)  # (B, L, Dd) in shuffled order
        full = torch.gather(full, 1, ids_restore[..., None].expand(-1, -1, t.shape[2]))  # unshuffle
        t = torch.cat([t[:, :1], full], dim=1) + self.decoder_pos_embed  # (B, 1 + L, Dd)
        for blk in self.decoder_blocks:
            t = blk(t)
        return self.decoder_pred(self.decoder_norm(t))[:, 1:]  # (B, L, p*p*C)

    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error on the hidden patches only (per-patch normalised targets with norm_pix_loss)."""
        target = patchify(imgs, self.cfg.patch_size)  # (B, L, p*p*C)
        if self.cfg.norm_pix_loss:
            mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        per_patch = ((pred - target) ** 2).mean(-1)  # (B, L)
        return (per_patch * mask).sum() / mask.sum().clamp_min(1)

    def forward(self, imgs: torch.Tensor, mask_ratio: float = 0.75, noise: torch.Tensor | None = None):
        """The release's forward: returns (loss, pred (B, L, p*p*C), mask (B, L), ids_restore (B, L))."""
        B, L = imgs.shape[0], self.cfg.grid ** 2
        noise = torch.rand(B, L, device=imgs.device) if noise is None else noise
        latent, mask, ids_restore = self.forward_encoder(imgs, noise, mask_ratio)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask, ids_restore


def random_masking(x: torch.Tensor, noise: torch.Tensor, mask_ratio: float):
    """The paper's per-sample shuffle: keep the int(L * (1 - ratio)) patches with the smallest noise.

    Args:
        x: (B, L, D) patch tokens. noise: (B, L), any real values (lower = kept first).

    Returns:
        kept tokens (B, K, D), mask (B, L) with 1 = hidden, ids_restore (B, L) that undoes the shuffle.
    """
    B, L, D = x.shape
    keep = int(L * (1 - mask_ratio))
    ids_shuffle = torch.argsort(noise, dim=1)  # ascending: small noise is kept
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]
    kept = torch.gather(x, 1, ids_keep[..., None].expand(-1, -1, D))  # (B, K, D)
    mask = torch.ones(B, L, device=x.device)
    mask[:, :keep] = 0
    return kept, torch.gather(mask, 1, ids_restore), ids_restore


def patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, L, p*p*C), patches in row-major order, pixels (p, q, c) inside each as in the release."""
    B, C, H, W = imgs.shape
    h, w = H // p, W // p
    x = imgs.reshape(B, C, h, p, w, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(B, h * w, p * p * C)


def unpatchify(x: torch.Tensor, p: int, grid: tuple[int, int], C: int = 3) -> torch.Tensor:
    """(B, L, p*p*C) -> (B, C, H, W); the inverse of `patchify`."""
    B = x.shape[0]
    h, w = grid
    x = x.reshape(B, h, w, p, p, C)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(B, C, h * p, w * p)


__all__ = ["MaeConfig", "MaskedAutoencoder", "patchify", "random_masking", "unpatchify"]
