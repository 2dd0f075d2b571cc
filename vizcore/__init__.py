"""vizcore: see what image models learn (attention, position embeddings, latents, MAE, embedding projector).

    import vizcore as vc
    model = vc.load_model("bundled:tiny_vit")
    maps = vc.attention.capture(model, [vc.load_image("cat.jpg")])
"""

from __future__ import annotations

from vizcore import anatomy, attention, data, embeddings, export, latent, mae, posembed, projection, scores
from vizcore.attention import AttentionMaps
from vizcore.data import Dataset, load_image
from vizcore.errors import VizcoreError
from vizcore.layout import TokenLayout
from vizcore.mae import MaeResult
from vizcore.models import ModelHandle, ModelInfo, list_models, load_model

__version__ = "0.1.0"

__all__ = [
    "AttentionMaps", "Dataset", "MaeResult", "ModelHandle", "ModelInfo", "TokenLayout", "VizcoreError", "anatomy",
    "attention", "data", "embeddings", "export", "latent", "mae", "posembed", "projection", "scores",
    "list_models", "load_image", "load_model",
]
