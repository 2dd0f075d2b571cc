"""Shared fixtures: tiny random-weight timm ViTs covering every token layout we support."""

from __future__ import annotations

import os

import pytest
import torch

from vizcore.numba_cache import prepare_numba

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
prepare_numba()  # as the app does before numba loads (tests import umap and pynndescent directly too)

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


# ---- a loopback Hugging Face Hub (tests never touch the network) ----------------------------------------------------

DINO_SPEC = "timm:vit_small_patch16_224.dino"
DINO_REPO = "timm/vit_small_patch16_224.dino"


@pytest.fixture(scope="session")
def dino_files() -> dict[str, bytes]:
    """The real layout of `timm/vit_small_patch16_224.dino` (the full ViT-S/16, no head) with random weights, stored
    as float16: 43 MB instead of 87 MB, and timm loads it into its float32 model exactly (every fp16 value is an
    fp32 value)."""
    import json

    import safetensors.torch
    import timm

    torch.manual_seed(0)
    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0)
    state = {k: v.half().contiguous() for k, v in model.state_dict().items()}
    config = {"architecture": "vit_small_patch16_224", "num_classes": 0, "num_features": 384,
              "pretrained_cfg": {"tag": "dino", "input_size": [3, 224, 224], "num_classes": 0}}
    return {"model.safetensors": safetensors.torch.save(state), "config.json": json.dumps(config).encode()}


@pytest.fixture(scope="session")
def hub_server(dino_files):
    """One stub Hub for the session, serving DINO ViT-S/16; tests may `add_repo` more (distinct names)."""
    from hubstub import HubStub

    with HubStub() as stub:
        stub.add_repo(DINO_REPO, dino_files)
        yield stub


@pytest.fixture
def hub(hub_server, tmp_path, monkeypatch):
    """The stub Hub with huggingface_hub (this process and its subprocesses' environment) pointed at it and an
    empty Hugging Face cache under `tmp_path / "hf_home"`; failure knobs and the request log start clean."""
    from hubstub import point_huggingface_hub_at

    stub = hub_server
    stub.cut_after.clear()
    stub.corrupt_in_transit.clear()
    stub.require_token, stub.delay = None, 0.0
    del stub.log[:]
    point_huggingface_hub_at(monkeypatch, stub.url, tmp_path / "hf_home")
    yield stub


def served_state(files: dict[str, bytes]) -> dict[str, torch.Tensor]:
    """The served weights as float32 tensors (what a model loading them must hold exactly)."""
    import safetensors.torch

    return {k: v.float() for k, v in safetensors.torch.load(files["model.safetensors"]).items()}
