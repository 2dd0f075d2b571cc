"""Shared fixtures: tiny random-weight timm ViTs covering every token layout we support."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network

TINY = {
    # name: (timm architecture, extra kwargs) — CLS only, distilled (2 prefix tokens), registers (CLS + 4)
    "cls": ("vit_tiny_patch16_224", {}),
    "distilled": ("deit_tiny_distilled_patch16_224", {}),
    "registers": ("vit_small_patch14_reg4_dinov2", {}),
}


def tiny_handle(kind: str, img_size: int = 64):
    """A small random-weight ViT of layout `kind` at `img_size` px, wrapped in a TimmViT."""
    import timm

    from vizcore.models.protocols import ModelInfo, Preprocess
    from vizcore.models.vit import TimmViT

    name, extra = TINY[kind]
    torch.manual_seed(0)
    kwargs = dict(pretrained=False, img_size=img_size, depth=2, dynamic_img_size=True, **extra)
    if kind == "registers":
        kwargs |= dict(embed_dim=64, num_heads=2)
    module = timm.create_model(name, **kwargs)
    info = ModelInfo(f"timm:{name}", name, "vit", pretrained=False)
    return TimmViT(module, info, Preprocess(size=(img_size, img_size), dynamic_size=True))


@pytest.fixture(params=list(TINY))
def tiny_vit(request):
    return tiny_handle(request.param)


@pytest.fixture(scope="session")
def bundled():
    import vizcore as vc

    return vc.load_model("bundled:tiny_vit")
