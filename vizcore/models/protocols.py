"""The two model protocols every vizcore view speaks (`ViTHandle`, `AutoencoderHandle`) and the description of a
model the registry lists (`ModelInfo`, `Preprocess`).

Views dispatch on these protocols (`isinstance(handle, ViTHandle)`), never on kind strings.
May import: `vizcore.models.layout`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
import torch.nn as nn

from vizcore.models.layout import TokenLayout


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


@runtime_checkable
class ViTHandle(Protocol):
    """A Vision Transformer (a timm `VisionTransformer`, or an MAE encoder sharing one) and how to feed it.

    Images passed to a handle are float tensors (B, C, H, W) in [0, 1] or lists of PIL images; the handle
    resizes (`prepare`) and normalises (`normalize`) them itself. Every use of `module` holds `lock`, so one
    cached handle is safe to share between sessions (threads).
    """

    info: ModelInfo
    module: nn.Module
    preprocess: Preprocess
    class_names: tuple[str, ...] | None
    lock: threading.RLock

    @property
    def num_layers(self) -> int:
        """Number of encoder blocks L."""
        ...

    @property
    def num_heads(self) -> int:
        """Attention heads per block H."""
        ...

    def prepare(self, images, *, fit: str = "resize") -> torch.Tensor:
        """Images -> (B, C, H, W) in [0, 1] at the size the model will see (not yet normalised)."""
        ...

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared (B, C, H, W) in [0, 1] -> the model's input ((x - mean) / std per channel)."""
        ...

    def layout(self, input_hw: tuple[int, int]) -> TokenLayout:
        """Token layout (prefix tokens, patch grid) for a prepared input of `input_hw` pixels."""
        ...

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared images (B, C, H, W) in [0, 1] -> logits (B, K) (pooled features when there is no head)."""
        ...

    def intermediates(self, x: torch.Tensor, indices: Sequence[int]) -> list[torch.Tensor]:
        """Prepared images -> the token sequence (B, N, D) after each block in `indices` (negative counts from
        the end), prefix tokens first, before the final norm; built on timm's `forward_intermediates` and
        stopping after the deepest requested block."""
        ...


@runtime_checkable
class AutoencoderHandle(Protocol):
    """An autoencoder (AE, sparse AE or VAE): images -> codes (`encode`) -> images (`decode`).

    Images are float tensors (B, C, H, W) in [0, 1] or lists of PIL images; `prepare` converts them to the
    model's size and channels. `variational` models also give their posterior N(mu, exp(logvar)).
    """

    info: ModelInfo
    module: nn.Module
    preprocess: Preprocess
    class_names: tuple[str, ...] | None
    lock: threading.RLock

    @property
    def latent_dim(self) -> int:
        """Code width D."""
        ...

    @property
    def variational(self) -> bool:
        """True for a VAE (it has a posterior and a N(0, I) prior)."""
        ...

    def prepare(self, images, *, invert: bool = False) -> torch.Tensor:
        """Images -> (B, C, H, W) in [0, 1] at the model's size and channels (`invert` flips light and dark)."""
        ...

    def encode(self, images) -> torch.Tensor:
        """Images -> codes (N, D): z for the AE, the sparse code, the posterior mean mu for the VAE."""
        ...

    def decode(self, z) -> torch.Tensor:
        """Codes (N, D) -> images (N, C, H, W) in [0, 1]."""
        ...

    def posterior(self, images) -> tuple[torch.Tensor, torch.Tensor]:
        """VAE: images -> (mu (N, D), logvar (N, D)); raises `InputError` for a model that is not variational."""
        ...


ModelHandle = ViTHandle | AutoencoderHandle
"""Any loaded model: exactly one of the two protocols (`isinstance(h, ModelHandle)` works)."""
