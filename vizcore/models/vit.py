"""Vision Transformer handles: any timm VisionTransformer (including our bundled tiny ViT) behind one protocol."""

from __future__ import annotations

import math
import threading

import torch
import torch.nn as nn
import torch.nn.functional as F

from vizcore.errors import InputError, ModelError
from vizcore.io.images import shrink, to_tensor_batch
from vizcore.models.layout import TokenLayout, vit_layout
from vizcore.models.protocols import ModelInfo, Preprocess

FITS = ("resize", "crop", "keep_aspect")


def build_timm_vit(arch: dict) -> nn.Module:
    """Build a timm VisionTransformer from a model-card architecture dict (random weights).

    Keys: img_size, patch_size, embed_dim, depth, num_heads, mlp_ratio, num_classes, class_token,
    reg_tokens, global_pool. Learned absolute position embeddings, pre-LayerNorm blocks, exact GELU.
    """
    from timm.models.vision_transformer import VisionTransformer

    keys = ("img_size", "patch_size", "embed_dim", "depth", "num_heads", "mlp_ratio", "num_classes",
            "class_token", "reg_tokens", "global_pool", "in_chans")
    kwargs = {k: arch[k] for k in keys if k in arch}
    return VisionTransformer(dynamic_img_size=True, **kwargs)


def is_vit(module: nn.Module) -> bool:
    """True for modules that look like a timm VisionTransformer (patch embedding + blocks with `attn`)."""
    blocks = getattr(module, "blocks", None)
    return (
        hasattr(module, "patch_embed")
        and blocks is not None
        and len(blocks) > 0
        and hasattr(blocks[0], "attn")
        and hasattr(blocks[0].attn, "attn_drop")
    )


class TimmViT:
    """A timm VisionTransformer with its preprocessing, class names and token layout."""

    kind = "vit"

    def __init__(self, module: nn.Module, info: ModelInfo, preprocess: Preprocess,
                 class_names: tuple[str, ...] | None = None) -> None:
        if not is_vit(module):
            raise ModelError(f"{info.spec} is not a Vision Transformer vizcore can read (no patch embedding and "
                             "attention blocks). Pick a ViT-family model, e.g. timm:vit_small_patch16_224.")
        self.module = module.eval()
        self.info = info
        self.preprocess = preprocess
        self.class_names = class_names
        # One lock per model: attention capture flips the attention implementation and adds hooks on the shared
        # module, so every use of the module goes through this lock (sessions share cached models).
        self.lock = threading.RLock()

    @property
    def num_layers(self) -> int:
        return len(self.module.blocks)

    @property
    def num_heads(self) -> int:
        return int(self.module.blocks[0].attn.num_heads)

    @property
    def has_head(self) -> bool:
        return int(getattr(self.module, "num_classes", 0) or 0) > 0

    def layout(self, input_hw: tuple[int, int]) -> TokenLayout:
        return vit_layout(self.module, input_hw)

    def target_size(self, image_hw: tuple[int, int], fit: str) -> tuple[int, int]:
        """Input size the model will see for an image of `image_hw` under `fit`."""
        (H, W), (ph, pw) = self.preprocess.size, tuple(self.module.patch_embed.patch_size)
        if not self.preprocess.dynamic_size:
            return H, W
        if fit != "keep_aspect":  # whole patches only
            return max(1, round(H / ph)) * ph, max(1, round(W / pw)) * pw
        scale = math.sqrt((H * W) / (image_hw[0] * image_hw[1]))
        gh = max(1, round(image_hw[0] * scale / ph))
        gw = max(1, round(image_hw[1] * scale / pw))
        return gh * ph, gw * pw

    def prepare(self, images, *, fit: str = "resize") -> torch.Tensor:
        """Images -> (B, C, H, W) float in [0, 1] at the size the model sees.

        fit: "resize" squashes to the native size; "crop" resizes the short side and centre-crops;
        "keep_aspect" keeps the aspect ratio with a patch grid of about the native token count (only for
        models that accept dynamic sizes; otherwise it falls back to "resize").
        """
        if fit not in FITS:
            raise InputError(f"Unknown fit '{fit}'. Use one of {', '.join(FITS)}.")
        x = to_tensor_batch(shrink(images, self.preprocess.size))  # (B, C, h, w)
        if x.shape[1] == 1 and self.preprocess.in_chans == 3:
            x = x.expand(-1, 3, -1, -1)
        size = self.target_size(tuple(x.shape[-2:]), fit)
        if fit == "crop":
            x = _resize_short_side_crop(x, size)
        elif tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)
        return x.clamp(0, 1).contiguous()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.preprocess.mean, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(self.preprocess.std, dtype=x.dtype).view(1, -1, 1, 1)
        return (x - mean) / std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with self.lock, torch.inference_mode():
            return self.module(self.normalize(x))

    def intermediates(self, x: torch.Tensor, indices) -> list[torch.Tensor]:
        """Prepared images (B, C, H, W) -> [(B, N, D) tokens after block i for i in `indices`], prefix tokens first,
        before the final norm (negative indices count from the end; repeats allowed). Runs timm's
        `forward_intermediates` and stops after the deepest requested block."""
        n = self.num_layers
        wanted = [int(i) % n if -n <= int(i) < n else _bad_layer(int(i), n) for i in indices]
        take = sorted(set(wanted))
        with self.lock, torch.inference_mode():
            feats = self.module.forward_intermediates(self.normalize(x), indices=take, return_prefix_tokens=True,
                                                      norm=False, stop_early=True, output_fmt="NLC",
                                                      intermediates_only=True)
        by_block = {}
        for i, f in zip(take, feats):
            patches, prefix = f if isinstance(f, tuple) else (f, None)  # (B, P, D), (B, n_prefix, D) or None
            by_block[i] = patches if prefix is None else torch.cat([prefix, patches], dim=1)  # (B, N, D)
        return [by_block[i] for i in wanted]


def _bad_layer(index: int, n: int) -> int:
    raise InputError(f"Layer {index} does not exist: the model has {n} blocks (use 0..{n - 1} or -1 for the last).")


def _resize_short_side_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = x.shape[-2:]
    scale = max(size[0] / h, size[1] / w)
    nh, nw = max(size[0], round(h * scale)), max(size[1], round(w * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
    top, left = (nh - size[0]) // 2, (nw - size[1]) // 2
    return x[..., top:top + size[0], left:left + size[1]]
