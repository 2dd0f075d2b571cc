"""What the registry says about a model (`ModelInfo`) and how a model wants its pixels (`Preprocess`).

Plain frozen dataclasses with no torch import, so the model catalog (`vizcore.models.catalog`) and the app's Home
page can list models without loading any model library. `vizcore.models.protocols` re-exports both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model before (or after) loading it.

    Attributes:
        spec: the string `load_model` takes, e.g. "bundled:tiny_vit" or "timm:vit_small_patch16_224.dino".
        title: short human name for pickers.
        kind: model family for pickers and labels: "vit", "mae", "ae", "sae" or "vae".
        description: one sentence on what it is and how it was trained.
        pretrained: False when the weights are random (always labelled as such in the UI).
        offline: True when the weights are on this machine right now.
        domain: the data set a narrow model was trained on ("scenes", "digits", "sprites": names in
            `vizcore.data.list_datasets()`); "" for models trained on broad natural images (or unknown). Views
            call `vizcore.models.out_of_domain_note` with it before showing an answer for other images.
        trained_on: one phrase on the training data, e.g. "ImageNet-1k (1.28 M photos, 1,000 classes)".
        licence: the weights' licence (curated models), e.g. "apache-2.0".
        size_bytes: bytes of the weight file a download fetches (0 when unknown or already bundled).
        pages: the app pages the model fits (curated models), e.g. ("Attention", "MAE reconstruction").
    """

    spec: str
    title: str
    kind: str
    description: str = ""
    pretrained: bool = True
    offline: bool = True
    domain: str = ""
    trained_on: str = ""
    licence: str = ""
    size_bytes: int = 0
    pages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preprocess:
    """How a model wants its pixels.

    Attributes:
        size: native input (H, W) in pixels.
        mean, std: per-channel normalisation applied after scaling to [0, 1].
        dynamic_size: True when the model accepts other sizes (its position embedding is resampled).
    """

    size: tuple[int, int]
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    dynamic_size: bool = False
    in_chans: int = 3
    extra: dict = field(default_factory=dict)
