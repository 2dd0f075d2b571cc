"""Everything that loads or defines a model: the registry, the two handle protocols and every model family.

Specs: ``bundled:<name>`` (assets/models), ``timm:<name>`` (any timm ViT, weights from the local Hugging Face
cache), ``hf:<repo_id>`` (a transformers ViT-family repo in that cache), ``file:<path>[?arch=<timm name>]`` (a local
checkpoint or transformers folder). Adding a source is adding one entry to `registry.SOURCES`. Weights reach the
cache only on request: `download.plan` + `download.download` (the CLI's `vizcore download`, the app's Download
weights button). Every handle is exactly one of `ViTHandle` (ViTs and MAE encoders: `TimmViT`, `MaeViT`) and
`AutoencoderHandle` (`TorchAutoencoder`); `ModelHandle` is their union.

The public names load on first use (PEP 562, like the root package): `list_models()` and the curated table come
from torch-free modules (`catalog`, `curated`, `info`), so listing models costs milliseconds; `load_model` imports
torch and timm when it is first touched.

May import: `vizcore.io`, `vizcore.errors` (never data, analysis or anything above).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vizcore.lazy import lazy_attributes

# public name -> the module that defines it
_LAZY = {
    "AutoencoderHandle": "vizcore.models.protocols",
    "CURATED": "vizcore.models.curated",
    "DEFAULT_MODEL": "vizcore.models.catalog",
    "DomainNote": "vizcore.models.domain",
    "ModelHandle": "vizcore.models.protocols",
    "ModelInfo": "vizcore.models.info",
    "Preprocess": "vizcore.models.info",
    "SOURCES": "vizcore.models.registry",
    "TimmViT": "vizcore.models.vit",
    "ViTHandle": "vizcore.models.protocols",
    "available_backbones": "vizcore.models.curated",
    "download": "vizcore.models.download",  # the module: HfApi and an HTTP client, loaded when a download starts
    "estimated_bytes": "vizcore.models.curated",
    "format_size": "vizcore.models.curated",
    "list_models": "vizcore.models.catalog",
    "load_model": "vizcore.models.registry",
    "needs_download": "vizcore.models.curated",
    "out_of_domain_note": "vizcore.models.domain",
    "random_twin": "vizcore.models.registry",
    "weights_present": "vizcore.models.curated",
}

__all__ = sorted(_LAZY)


# other names fall through to submodule imports (`from vizcore.models import download`)
__getattr__, __dir__ = lazy_attributes("vizcore.models", _LAZY, globals())


if TYPE_CHECKING:  # the same names for type checkers and IDEs
    from vizcore.models.catalog import DEFAULT_MODEL, list_models  # noqa: F401
    from vizcore.models.curated import (  # noqa: F401
        CURATED,
        available_backbones,
        estimated_bytes,
        format_size,
        needs_download,
        weights_present,
    )
    from vizcore.models.domain import DomainNote, out_of_domain_note  # noqa: F401
    from vizcore.models.info import ModelInfo, Preprocess  # noqa: F401
    from vizcore.models.protocols import AutoencoderHandle, ModelHandle, ViTHandle  # noqa: F401
    from vizcore.models.registry import SOURCES, load_model, random_twin  # noqa: F401
    from vizcore.models.vit import TimmViT  # noqa: F401
