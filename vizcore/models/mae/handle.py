"""`MaeViT`: an MAE behind vizcore's ViT protocol, so its encoder works on every ViT view.

The MAE encoder's parameter names are timm's ViT names (`cls_token`, `pos_embed`, `patch_embed.proj`,
`blocks.i.{norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2}`, `norm`), so the handle wraps a timm
VisionTransformer that *shares* the MAE's encoder tensors (no copy): attention capture, tokens and embeddings
run on it unchanged. `handle.mae` is the full `MaskedAutoencoder` for reconstructions, or None for encoder-only
checkpoints (the official `mae_pretrain_*` files), in which case `require_decoder` says why.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vizcore.models.checkpoints import load_into, read_state_dict
from vizcore.models.mae.checkpoints import (
    MAE_KEYS,
    EncoderOnlyError,
    NotMaeError,
    infer_config,
    read_mae_config,
    read_mae_file,
)
from vizcore.models.mae.model import MaeConfig, MaskedAutoencoder
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT, build_timm_vit

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # what the official MAEs were fed
ENCODER_ONLY = ("This checkpoint holds only the MAE encoder (no decoder), so it cannot reconstruct masked patches. "
                "Its encoder works on the Attention and Embedding projector pages; for reconstructions load a full "
                "pre-training checkpoint (one with decoder_* weights, e.g. the release's mae_visualize_* files).")


class MaeViT(TimmViT):
    """A ViT handle over the MAE encoder, plus the whole MAE (`mae`) when the checkpoint has a decoder."""

    kind = "mae"

    def __init__(self, mae: MaskedAutoencoder | None, encoder: torch.nn.Module, info: ModelInfo,
                 preprocess: Preprocess, cfg: MaeConfig) -> None:
        super().__init__(encoder, info, preprocess)
        self.mae = mae.eval() if mae is not None else None
        self.cfg = cfg

    @property
    def can_reconstruct(self) -> bool:
        return self.mae is not None

    def require_decoder(self) -> MaskedAutoencoder:
        if self.mae is None:
            raise EncoderOnlyError(f"{self.info.title}: {ENCODER_ONLY}")
        return self.mae

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Inverse of `normalize` along the last axis of (..., C) tensors (pixels in patch layout)."""
        mean = torch.tensor(self.preprocess.mean, dtype=x.dtype)
        std = torch.tensor(self.preprocess.std, dtype=x.dtype)
        return x * std + mean


def build(sd: dict[str, torch.Tensor], cfg: MaeConfig, info: ModelInfo, preprocess: Preprocess,
          source: str) -> MaeViT:
    """A handle over an MAE state dict with official names; without decoder_* keys it is encoder-only."""
    if "decoder_pred.weight" not in sd:
        encoder = _encoder(cfg)
        load_into(encoder, {k: v for k, v in sd.items() if k != "mask_token"}, source)
        return MaeViT(None, encoder, info, preprocess, cfg)
    mae = MaskedAutoencoder(cfg)
    load_into(mae, sd, source)
    return _over(mae, info, preprocess)


def wrap(mae: MaskedAutoencoder) -> MaeViT:
    """A handle over a bare module (pixels fed as they are: mean 0, std 1), e.g. during training or in tests."""
    C = mae.cfg.in_chans
    return _over(mae, ModelInfo("module:mae", "MAE (in memory)", "mae"), _preprocess(mae.cfg, (0.0,) * C, (1.0,) * C))


def _over(mae: MaskedAutoencoder, info: ModelInfo, preprocess: Preprocess) -> MaeViT:
    """The handle, with a timm ViT encoder that shares the MAE's encoder tensors (no second copy)."""
    encoder = _encoder(mae.cfg)
    shared = {k: v for k, v in mae.state_dict(keep_vars=True).items() if k in encoder.state_dict()}
    encoder.load_state_dict(shared, strict=True, assign=True)
    return MaeViT(mae, encoder, info, preprocess, mae.cfg)


def _encoder(cfg: MaeConfig) -> torch.nn.Module:
    """The timm ViT over the MAE's encoder, its LayerNorms with the MAE's eps (timm's default is the release's)."""
    encoder = build_timm_vit(_timm_arch(cfg))
    for m in encoder.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.eps = cfg.norm_eps
    return encoder


def _timm_arch(cfg: MaeConfig) -> dict:
    return {"img_size": cfg.img_size, "patch_size": cfg.patch_size, "in_chans": cfg.in_chans,
            "embed_dim": cfg.embed_dim, "depth": cfg.depth, "num_heads": cfg.num_heads, "mlp_ratio": cfg.mlp_ratio,
            "num_classes": 0, "class_token": True, "reg_tokens": 0, "global_pool": "token"}


def _preprocess(cfg: MaeConfig, mean, std) -> Preprocess:
    return Preprocess(size=(cfg.img_size, cfg.img_size), mean=tuple(mean), std=tuple(std), in_chans=cfg.in_chans)


def from_card(card: dict, weights: Path | None, spec: str, pretrained: bool = True) -> MaeViT:
    """A bundled MAE (kind "mae"): the card's "architecture" is a `MaeConfig`; `weights` None = random."""
    cfg = MaeConfig(**card["architecture"])
    sd = read_state_dict(weights) if weights is not None else MaskedAutoencoder(cfg).state_dict()
    pre = card.get("preprocess", {})
    title = card.get("title", card["name"]) + ("" if pretrained else " (random weights)")
    info = ModelInfo(spec, title, "mae", card.get("description", ""), pretrained=pretrained)
    return build(sd, cfg, info, _preprocess(cfg, pre.get("mean", (0, 0, 0)), pre.get("std", (1, 1, 1))), spec)


def from_checkpoint(path: Path, spec: str, *, num_heads: int | None = None, norm_pix_loss: bool | None = None,
                    pretrained: bool = True, title: str | None = None) -> MaeViT:
    """An official `.pth` (full or encoder-only) or a Hugging Face ViTMAE folder / safetensors file.

    norm_pix_loss: None reads it from the checkpoint's training `args` (the official script saves them), else from
    a Hugging Face config.json, else False. `pretrained=False` keeps the architecture with fresh random weights.
    """
    sd, args = read_mae_file(path)
    if not sd.keys() >= MAE_KEYS or ("head.weight" in sd and "decoder_pred.weight" not in sd):
        raise NotMaeError(f"{path.name} is not an MAE checkpoint.")
    hf = read_mae_config(path)  # {} unless a config.json sits in (or beside) the checkpoint
    if norm_pix_loss is None:
        norm_pix_loss = bool(args.get("norm_pix_loss", hf.get("norm_pix_loss", False)))
    cfg = infer_config(sd, num_heads=num_heads or hf.get("num_heads"),
                       decoder_num_heads=hf.get("decoder_num_heads", 16), norm_pix_loss=norm_pix_loss,
                       encoder_only_ok=True, norm_eps=hf.get("norm_eps", 1e-6))
    full = "decoder_pred.weight" in sd
    if not pretrained:
        sd = (MaskedAutoencoder(cfg) if full else _encoder(cfg)).state_dict()
    name = title or f"{path.name} (MAE{'' if full else ', encoder only'})"
    info = ModelInfo(spec, name + ("" if pretrained else " (random weights)"), "mae",
                     "An MAE loaded from a local checkpoint.", pretrained=pretrained)
    return build(sd, cfg, info, _preprocess(cfg, IMAGENET_MEAN, IMAGENET_STD), spec)
