"""The two model protocols every vizcore view speaks (`ViTHandle`, `AutoencoderHandle`) and the description of a
model the registry lists (`ModelInfo`, `Preprocess`, defined in the torch-free `vizcore.models.info`).

Views dispatch on these protocols (`isinstance(handle, ViTHandle)`), never on kind strings.
May import: `vizcore.models.layout`, `vizcore.models.info`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
import torch.nn as nn

from vizcore.models.info import ModelInfo, Preprocess
from vizcore.models.layout import TokenLayout


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
