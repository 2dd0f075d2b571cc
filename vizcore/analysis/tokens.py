"""The one token path: a ViT's token sequence entering block 0 and after any block, and the one pooling rule.

Every analysis that reads a layer's tokens (embeddings, layer CKA, the residual stream, the block walk-through)
goes through `layer_tokens`, which is built on the handle's `intermediates` (timm's `forward_intermediates`,
stopping after the deepest block asked for). Attention capture is the one other path (hooks on the attention
dropout, `vizcore.analysis.attention`), because attention probabilities are not block outputs.

Dimension letters: B images, N tokens (prefix + patches), D width, L blocks.
May import: `vizcore.models`, `vizcore.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn as nn

from vizcore.errors import InputError
from vizcore.models.layout import TokenLayout
from vizcore.models.protocols import ViTHandle

POOLINGS = ("cls", "mean")


def layer_index(layer: int, num_layers: int) -> int:
    """Validate `layer` against a model of `num_layers` blocks and return it counted from the start.

    Raises:
        InputError: `layer` is not an integer in -num_layers .. num_layers - 1.
    """
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not -num_layers <= layer < num_layers:
        raise InputError(f"Layer {layer!r} does not exist in a {num_layers}-layer model. Use 0..{num_layers - 1} "
                         f"or -{num_layers}..-1 (-1 = the final features).")
    return int(layer) % num_layers


def layer_tokens(handle: ViTHandle, x: torch.Tensor, layers: Sequence[int], *, final_norm: bool = False
                 ) -> list[torch.Tensor]:
    """Token sequences (B, N, D) after each block in `layers` for prepared images `x` (B, C, H, W) in [0, 1].

    Prefix tokens come first. Outputs are raw block outputs (the residual stream); with `final_norm` the last
    block's output goes through the model's final `norm`, i.e. timm's `forward_features`.
    """
    n = handle.num_layers
    idx = [layer_index(layer, n) for layer in layers]
    outs = handle.intermediates(x, idx)  # len(idx) x (B, N, D)
    norm = getattr(handle.module, "norm", None)
    if final_norm and isinstance(norm, nn.Module):
        with handle.lock, torch.inference_mode():
            outs = [norm(t) if i == n - 1 else t for i, t in zip(idx, outs)]
    return outs


def input_tokens(handle: ViTHandle, x: torch.Tensor) -> torch.Tensor:
    """The sequence entering block 0 (B, N, D): patch embedding + position embedding + prefix tokens (+ norm_pre).

    Uses timm's `_pos_embed`, the one place that knows each family's rule for adding position embeddings to
    prefix tokens (ViT adds them, DINOv2-reg and `no_embed_class` models do not), exactly as `forward_features`
    runs it.
    """
    m = handle.module
    with handle.lock, torch.inference_mode():
        t = m.patch_embed(handle.normalize(x))  # (B, P, D) or (B, gh, gw, D) for dynamic sizes
        t = m._pos_embed(t)  # (B, N, D)
        t = m.patch_drop(t)
        return m.norm_pre(t)


def pool_tokens(tokens: torch.Tensor, layout: TokenLayout, pooling: str) -> torch.Tensor:
    """Tokens (B, N, D) -> (B, D): the CLS row, or the mean of the patch rows (no prefix token ever counts).

    Raises:
        InputError: an unknown pooling, or "cls" for a model without a CLS token.
    """
    if pooling not in POOLINGS:
        raise InputError(f"Unknown pooling '{pooling}'. Use one of {', '.join(POOLINGS)}.")
    if pooling == "cls":
        if not layout.has_cls:
            raise InputError(f"This model has no CLS token (its prefix tokens: "
                             f"{', '.join(layout.prefix_names) or 'none'}). Use pooling='mean'.")
        return tokens[:, layout.prefix_names.index("cls")]  # (B, D)
    return tokens[:, layout.num_prefix_tokens:].mean(1)  # (B, D)
