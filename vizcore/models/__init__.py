"""Model registry: one spec string per model, one handle protocol for all of them.

Specs: ``bundled:<name>`` (assets/models), ``timm:<name>`` (any timm ViT, weights from the local cache),
``file:<path>[?arch=<timm name>]`` (a local checkpoint). Adding a source is adding one entry to `SOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable

from vizcore.errors import ModelError
from vizcore.models.base import ModelHandle, ModelInfo, Preprocess
from vizcore.models.bundled import list_bundled, load_bundled
from vizcore.models.files import load_file
from vizcore.models.timm_source import CURATED, list_timm, load_timm
from vizcore.models.vit import VitHandle

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


__all__ = ["CURATED", "DEFAULT_MODEL", "ModelHandle", "ModelInfo", "Preprocess", "VitHandle", "list_models",
           "load_model"]
