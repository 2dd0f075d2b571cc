"""vizcore: see what image models learn (attention, position embeddings, latents, MAE, embedding projector).

    import vizcore as vc
    model = vc.load_model("bundled:tiny_vit")
    maps = vc.attention.capture(model, [vc.load_image("cat.jpg")])

The public names below load on first use (PEP 562), so `import vizcore` itself costs milliseconds and a page or
command pays only for what it touches (torch, timm and scikit-learn take seconds to import).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vizcore.errors import VizcoreError  # noqa: F401 - public, eager (cheap)
from vizcore.lazy import lazy_attributes

# huggingface_hub's telemetry asks the hub for a file before a download's first request (3 s timeout): with no
# network that pushes the "cannot reach" message past 5 s. Set before anything imports huggingface_hub.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"

# public name -> the module that defines it (a module's own name: the module itself)
_LAZY = {
    "anatomy": "vizcore.analysis.anatomy",
    "attention": "vizcore.analysis.attention",
    "embeddings": "vizcore.analysis.embeddings",
    "latent": "vizcore.analysis.latent",
    "mae": "vizcore.analysis.mae",
    "posembed": "vizcore.analysis.posembed",
    "projection": "vizcore.analysis.projection",
    "scores": "vizcore.analysis.scores",
    "data": "vizcore.data",
    "export": "vizcore.export",
    "models": "vizcore.models",
    "AttentionMaps": "vizcore.analysis.attention",
    "MaeResult": "vizcore.analysis.mae",
    "Dataset": "vizcore.data.dataset",
    "load_image": "vizcore.io.images",
    "ModelHandle": "vizcore.models.protocols",
    "ModelInfo": "vizcore.models.info",
    "list_models": "vizcore.models.catalog",
    "load_model": "vizcore.models.registry",
    "TokenLayout": "vizcore.models.layout",
}

__all__ = sorted([*_LAZY, "VizcoreError"])

__getattr__, __dir__ = lazy_attributes("vizcore", _LAZY, globals())


if TYPE_CHECKING:  # the same names for type checkers and IDEs
    from vizcore import data, export, models  # noqa: F401
    from vizcore.analysis import anatomy, attention, embeddings, latent, mae, posembed, projection, scores  # noqa: F401
    from vizcore.analysis.attention import AttentionMaps  # noqa: F401
    from vizcore.analysis.mae import MaeResult  # noqa: F401
    from vizcore.data.dataset import Dataset  # noqa: F401
    from vizcore.io.images import load_image  # noqa: F401
    from vizcore.models.catalog import list_models  # noqa: F401
    from vizcore.models.info import ModelInfo  # noqa: F401
    from vizcore.models.layout import TokenLayout  # noqa: F401
    from vizcore.models.protocols import ModelHandle  # noqa: F401
    from vizcore.models.registry import load_model  # noqa: F401
