"""The one model protocol every vizcore view speaks, and the description of a model the registry lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch
import torch.nn as nn

from vizcore.layout import TokenLayout


@dataclass(frozen=True)
class ModelInfo:
    """What the registry knows about a model before (or after) loading it.

    Attributes:
        spec: the string `load_model` takes, e.g. "bundled:tiny_vit" or "timm:vit_small_patch16_224.dino".
        title: short human name for pickers.
        kind: model family: "vit" (later issues add "ae", "vae", "mae").
        description: one sentence on what it is and how it was trained.
        pretrained: False when the weights are random (always labelled as such in the UI).
        offline: True when the weights are on this machine right now.
    """

    spec: str
    title: str
    kind: str
    description: str = ""
    pretrained: bool = True
    offline: bool = True


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
class ModelHandle(Protocol):
    """A loaded model plus everything a view needs to use it correctly.

    Images passed to a handle are float tensors (B, C, H, W) in [0, 1] or lists of PIL images; the handle
    resizes and normalises them itself. Methods are safe to call from several threads (sessions) at once.
    """

    info: ModelInfo
    module: nn.Module
    preprocess: Preprocess
    class_names: tuple[str, ...] | None

    def prepare(self, images, *, fit: str = "resize") -> torch.Tensor:
        """Images -> (B, C, H, W) in [0, 1] at the size the model will see (not yet normalised)."""
        ...

    def layout(self, input_hw: tuple[int, int]) -> TokenLayout:
        """Token layout for a prepared input of `input_hw` pixels."""
        ...

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Prepared images (B, C, H, W) in [0, 1] -> logits (B, K) (or features when there is no head)."""
        ...

    def tokens(self, x: torch.Tensor, layers: list[int]) -> list[torch.Tensor]:
        """Prepared images -> token features (B, N, D) after each block in `layers`."""
        ...
