"""Everything that loads or defines a model: the registry, the two handle protocols and every model family.

Specs: ``bundled:<name>`` (assets/models), ``timm:<name>`` (any timm ViT, weights from the local Hugging Face
cache), ``hf:<repo_id>`` (a transformers ViT-family repo in that cache), ``file:<path>[?arch=<timm name>]`` (a local
checkpoint or transformers folder). Adding a source is adding one entry to `SOURCES`. Weights reach the cache only
on request: `download.plan` + `download.download` (the CLI's `vizcore download`, the app's Download weights button).
Every handle is exactly one of `ViTHandle` (ViTs and MAE encoders: `TimmViT`, `MaeViT`) and `AutoencoderHandle`
(`TorchAutoencoder`); `ModelHandle` is their union.

May import: `vizcore.io`, `vizcore.errors` (never data, analysis or anything above).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vizcore.errors import ModelError
from vizcore.models.bundled import list_bundled, load_bundled
from vizcore.models.curated import (
    CURATED,
    available_backbones,
    estimated_bytes,
    format_size,
    needs_download,
    weights_present,
)
from vizcore.models.domain import DomainNote, out_of_domain_note
from vizcore.models.files import load_file
from vizcore.models.hf_source import load_hf
from vizcore.models.protocols import AutoencoderHandle, ModelHandle, ModelInfo, Preprocess, ViTHandle
from vizcore.models.timm_source import load_timm
from vizcore.models.vit import TimmViT

SOURCES: dict[str, Callable[..., ModelHandle]] = {
    "bundled": load_bundled,
    "timm": load_timm,
    "hf": load_hf,
    "file": load_file,
}
DEFAULT_MODEL = "bundled:tiny_vit"


def load_model(spec: str, *, pretrained: bool = True) -> ModelHandle:
    """Load the model `spec` names. `pretrained=False` gives random weights, labelled as such."""
    scheme, sep, rest = (spec or "").strip().partition(":")
    if not sep or scheme not in SOURCES or not rest:
        raise ModelError(
            f"'{spec}' is not a model spec. Use bundled:<name>, timm:<name>, hf:<repo id> or file:<path>, "
            f"e.g. {DEFAULT_MODEL} or timm:vit_small_patch16_224.dino."
        )
    return SOURCES[scheme](rest, pretrained=pretrained)


def random_twin(spec: str, *, seed: int = 0) -> ModelHandle:
    """`spec`'s architecture and preprocessing with random weights (labelled so), the same for the same seed: the
    baseline a pretrained model is compared with. The global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return load_model(spec, pretrained=False)


def list_models() -> list[ModelInfo]:
    """Bundled models and the curated pretrained models, each marked with whether its weights are on this
    machine (`offline`); curated entries carry purpose (`description`), size, licence and pages."""
    return list_bundled() + [c.info(offline=weights_present(c.spec)) for c in CURATED]


__all__ = ["CURATED", "DEFAULT_MODEL", "SOURCES", "AutoencoderHandle", "DomainNote", "ModelHandle", "ModelInfo",
           "Preprocess", "TimmViT", "ViTHandle", "available_backbones", "estimated_bytes", "format_size",
           "list_models", "load_model", "needs_download", "out_of_domain_note", "random_twin", "weights_present"]
