"""Everything that loads or defines a model: the registry, the two handle protocols and every model family.

Specs: ``bundled:<name>`` (assets/models), ``timm:<name>`` (any timm ViT, weights from the local cache),
``file:<path>[?arch=<timm name>]`` (a local checkpoint). Adding a source is adding one entry to `SOURCES`.
Every handle is exactly one of `ViTHandle` (ViTs and MAE encoders: `TimmViT`, `MaeViT`) and `AutoencoderHandle`
(`TorchAutoencoder`); `ModelHandle` is their union.

May import: `vizcore.io`, `vizcore.errors` (never data, analysis or anything above).
"""

from __future__ import annotations

from collections.abc import Callable

from vizcore.errors import ModelError
from vizcore.models.bundled import list_bundled, load_bundled
from vizcore.models.files import load_file
from vizcore.models.protocols import AutoencoderHandle, ModelHandle, ModelInfo, Preprocess, ViTHandle
from vizcore.models.timm_source import CURATED, list_timm, load_timm
from vizcore.models.vit import TimmViT

SOURCES: dict[str, Callable[..., ModelHandle]] = {
    "bundled": load_bundled,
    "timm": load_timm,
    "file": load_file,
}
DEFAULT_MODEL = "bundled:tiny_vit"


def load_model(spec: str, *, pretrained: bool = True) -> ModelHandle:
    """Load the model `spec` names. `pretrained=False` gives random weights, labelled as such."""
    scheme, sep, rest = (spec or "").strip().partition(":")
    if not sep or scheme not in SOURCES or not rest:
        raise ModelError(
            f"'{spec}' is not a model spec. Use bundled:<name>, timm:<name> or file:<path>, "
            f"e.g. {DEFAULT_MODEL} or timm:vit_small_patch16_224.dino."
        )
    return SOURCES[scheme](rest, pretrained=pretrained)


def list_models() -> list[ModelInfo]:
    """Bundled models and the curated timm models, each marked with whether its weights are on this machine."""
    return list_bundled() + list_timm()


__all__ = ["CURATED", "DEFAULT_MODEL", "AutoencoderHandle", "ModelHandle", "ModelInfo", "Preprocess", "TimmViT",
           "ViTHandle", "list_models",
           "load_model"]
