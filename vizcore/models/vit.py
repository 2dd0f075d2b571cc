"""Vision Transformer handles: any timm VisionTransformer (including our bundled tiny ViT) behind one protocol."""

from __future__ import annotations

import math
import threading

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from vizcore.errors import InputError, ModelError
from vizcore.layout import TokenLayout, vit_layout
from vizcore.models.base import ModelInfo, Preprocess

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


class VitHandle:
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

    def tokens(self, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
        n = self.num_layers
        idx = [layer % n for layer in layers]
        out: dict[int, torch.Tensor] = {}
        with self.lock:  # hooks live only while this call owns the shared module
            hooks = [self.module.blocks[i].register_forward_hook(_store(out, i)) for i in set(idx)]
            try:
                with torch.inference_mode():
                    self.module.forward_features(self.normalize(x))
            finally:
                for h in hooks:
                    h.remove()
        return [out[i] for i in idx]  # each (B, N, D)


def _store(out: dict, i: int):
    def hook(_module, _inputs, output):
        out[i] = output.detach()
    return hook


def shrink(images, size: tuple[int, int]):
    """PIL images much larger than `size` (H, W) box-reduced by an integer factor to about twice it, before any
    float conversion: a 36-megapixel upload then costs megabytes, not a gigabyte. Tensors pass through."""
    if isinstance(images, Image.Image):
        return shrink([images], size)[0]
    if not isinstance(images, (list, tuple)):
        return images
    out = []
    for im in images:
        if isinstance(im, Image.Image):
            factor = int(min(im.width / (2 * size[1]), im.height / (2 * size[0])))
            im = im.reduce(factor) if factor >= 2 else im
        out.append(im)
    return out


def to_tensor_batch(images) -> torch.Tensor:
    """A (B, C, H, W) tensor in [0, 1], a (C, H, W) tensor, a PIL image or a list of PIL images -> (B, C, H, W)."""
    if isinstance(images, Image.Image):
        images = [images]
    if isinstance(images, (list, tuple)):
        if not images:
            raise InputError("No images were given. Add at least one image.")
        if not all(isinstance(im, Image.Image) for im in images):
            return torch.stack([to_tensor_batch(im)[0] for im in images])
        sizes = {im.size for im in images}
        if len(sizes) > 1:
            raise InputError("Images in one batch must share a size; resize them first or pass them one at a time.")
        arrays = [np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images]
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    if isinstance(images, torch.Tensor):
        x = images.float()
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise InputError(f"Expected images shaped (B, C, H, W) with C = 1 or 3, got {tuple(images.shape)}.")
        return x
    raise InputError(f"Cannot use {type(images).__name__} as images: pass PIL images or a (B, C, H, W) tensor.")


def _resize_short_side_crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    h, w = x.shape[-2:]
    scale = max(size[0] / h, size[1] / w)
    nh, nw = max(size[0], round(h * scale)), max(size[1], round(w * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bicubic", align_corners=False, antialias=True)
    top, left = (nh - size[0]) // 2, (nw - size[1]) // 2
    return x[..., top:top + size[0], left:left + size[1]]
