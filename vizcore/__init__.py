"""vizcore: see what image models learn (attention, position embeddings, latents, MAE, embedding projector).

    import vizcore as vc
    model = vc.load_model("bundled:tiny_vit")
    maps = vc.attention.capture(model, [vc.load_image("cat.jpg")])
"""

from __future__ import annotations

import os

# huggingface_hub's telemetry asks the hub for a file before a download's first request (3 s timeout): with no
# network that pushes the "cannot reach" message past 5 s. Set before anything imports huggingface_hub.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from vizcore import data, export
from vizcore.analysis import anatomy, attention, embeddings, latent, mae, posembed, projection, scores
from vizcore.analysis.attention import AttentionMaps
from vizcore.analysis.mae import MaeResult
from vizcore.data import Dataset
from vizcore.errors import VizcoreError
from vizcore.io.images import load_image
from vizcore.models import ModelHandle, ModelInfo, list_models, load_model
from vizcore.models.layout import TokenLayout

__version__ = "0.1.0"

__all__ = [
    "AttentionMaps", "Dataset", "MaeResult", "ModelHandle", "ModelInfo", "TokenLayout", "VizcoreError", "anatomy",
    "attention", "data", "embeddings", "export", "latent", "mae", "posembed", "projection", "scores",
    "list_models", "load_image", "load_model",
]
