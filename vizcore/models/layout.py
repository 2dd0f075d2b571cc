"""Token layout of a Vision Transformer: which rows of the sequence are prefix tokens and how patches tile.

The layout is read from the model (timm's ``num_prefix_tokens``, ``num_reg_tokens``, ``dist_token`` and the
patch embedding's ``dynamic_feat_size``), never guessed from ``sqrt(N)``: a DeiT-distilled model has two prefix
tokens, DINOv2-reg4 has five, and a 224 x 320 input has a 14 x 20 patch grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn


@dataclass(frozen=True)
class TokenLayout:
    """Where each token of a ViT sequence comes from.

    Attributes:
        num_prefix_tokens: tokens before the patches (CLS, distillation, registers).
        grid: patch grid (gh, gw); patch token i sits at row i // gw, column i % gw.
        patch_size: patch height and width in input pixels.
        prefix_names: one name per prefix token, e.g. ("cls", "reg1", "reg2") or ("cls", "dist").
    """

    num_prefix_tokens: int
    grid: tuple[int, int]
    patch_size: tuple[int, int]
    prefix_names: tuple[str, ...]

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def num_tokens(self) -> int:
        return self.num_prefix_tokens + self.num_patches

    @property
    def input_size(self) -> tuple[int, int]:
        """Input pixels (H, W) covered by the patch grid."""
        return self.grid[0] * self.patch_size[0], self.grid[1] * self.patch_size[1]

    @property
    def has_cls(self) -> bool:
        return "cls" in self.prefix_names

    def token_name(self, index: int) -> str:
        """Human name of token `index`: a prefix name or "patch (row, col)"."""
        if index < self.num_prefix_tokens:
            return self.prefix_names[index]
        r, c = divmod(index - self.num_prefix_tokens, self.grid[1])
        return f"patch ({r}, {c})"


def vit_layout(model: nn.Module, input_hw: tuple[int, int]) -> TokenLayout:
    """Read the token layout of a timm VisionTransformer for an input of `input_hw` pixels."""
    pe = model.patch_embed
    if hasattr(pe, "dynamic_feat_size"):
        grid = tuple(int(g) for g in pe.dynamic_feat_size(input_hw))
    else:
        grid = tuple(int(g) for g in pe.grid_size)
    patch = tuple(int(p) for p in pe.patch_size)
    names: list[str] = []
    if getattr(model, "cls_token", None) is not None:
        names.append("cls")
    if getattr(model, "dist_token", None) is not None:
        names.append("dist")
    names += [f"reg{i + 1}" for i in range(int(getattr(model, "num_reg_tokens", 0) or 0))]
    n_prefix = int(getattr(model, "num_prefix_tokens", len(names)))
    if n_prefix != len(names):  # an unknown family: keep the model's count, name the extras generically
        names = (names + [f"prefix{i}" for i in range(len(names), n_prefix)])[:n_prefix]
    return TokenLayout(n_prefix, (grid[0], grid[1]), (patch[0], patch[1]), tuple(names))
