"""Position embeddings of Vision Transformers: similarity grids, resampling, fixed 2-D sin-cos, offsets, PCA.

- Similarity grid: Dosovitskiy et al., "An Image is Worth 16x16 Words" (ICLR 2021), Fig. 7 (centre): the
  cosine similarity of each patch's learned position embedding to every other patch's, one tile per patch.
- Fixed 2-D sin-cos: He et al., "Masked Autoencoders Are Scalable Vision Learners" (CVPR 2022),
  ``get_2d_sincos_pos_embed`` in facebookresearch/mae, reimplemented here (and parity-tested against it).
- Resampling to another input size: timm's public ``timm.layers.resample_abs_pos_embed`` (bicubic, antialiased),
  exactly what a timm ViT built with ``dynamic_img_size=True`` does on every forward pass.

Which rows of ``pos_embed`` belong to patches is read from the model: the native grid is
``patch_embed.grid_size`` and the prefix rows are whatever is left (0 for ``no_embed_class`` models such as
DINOv2-reg, 1 for CLS, 2 for DeiT-distilled), never ``sqrt(rows)``. Every value is computed live, in float64.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from vizcore.errors import InputError, VizcoreError
from vizcore.models.sincos import sincos_2d


class NoAbsolutePositionEmbeddingError(VizcoreError):
    """The model adds no absolute position embedding to its tokens (it uses relative bias or RoPE instead)."""


def _module(model) -> nn.Module:
    """A handle (anything with `.module`) or a bare module -> the module."""
    return getattr(model, "module", model)


def _has_rope(module: nn.Module) -> bool:
    return any("rotary" in type(m).__name__.lower() or "rope" in type(m).__name__.lower() for m in module.modules())


def _has_relative_bias(module: nn.Module) -> bool:
    return any("relative_position_bias" in name or name.startswith("rel_pos_bias")
               for name, _ in module.named_parameters())


def position_scheme(model) -> str:
    """One or two sentences saying how `model` tells its tokens where they are.

    Covers learned or fixed absolute embeddings (ViT, DeiT, DINOv2, MAE), rotary embeddings (EVA-02 has
    both: a learned absolute table added once, plus RoPE rotating queries and keys in every block), and
    relative position bias (BEiT, Swin).
    """
    module = _module(model)
    pe = getattr(module, "pos_embed", None)
    parts = []
    if isinstance(pe, torch.Tensor):
        if is_fixed_sincos(module):
            kind = "fixed 2-D sin-cos (MAE's, equal to `sincos_2d` for this grid; never trained)"
        else:
            kind = "learned" if pe.requires_grad else "fixed (not trained)"
        parts.append(f"a {kind} absolute position embedding ({pe.shape[-2]} rows of width {pe.shape[-1]}) "
                     "added to the tokens once, before the first block")
    if _has_rope(module):
        parts.append("rotary position embedding (RoPE), which rotates every query and key by an angle set by "
                     "the patch's row and column inside each attention layer, so attention scores depend on "
                     "relative offsets; RoPE has no table of vectors to compare")
    if _has_relative_bias(module):
        parts.append("relative position bias: each attention layer adds a learned bias, looked up by the "
                     "(row, column) offset between query and key, to the attention scores; there is no "
                     "per-patch vector to compare")
    if not parts:
        return "This model has no position information vizcore can find (no absolute embedding, RoPE or relative bias)."
    return "This model uses " + "; and ".join(parts) + "."


def patch_position_embeddings(model) -> tuple[torch.Tensor, int]:
    """The patch rows of the absolute position embedding on the model's native grid.

    Args:
        model: a ViT handle or a timm module with `pos_embed` (1, R, D) and `patch_embed.grid_size`.

    Returns:
        pe (gh, gw, D) float64 (row-major patch order, as timm flattens patches), and the number of prefix
        rows R - gh*gw that were dropped (0 when the model stores none).

    Raises:
        NoAbsolutePositionEmbeddingError: the model has no absolute table; the message says what it uses instead.
    """
    module = _module(model)
    pe = getattr(module, "pos_embed", None)
    if not isinstance(pe, torch.Tensor):
        raise NoAbsolutePositionEmbeddingError(
            f"{position_scheme(module)} There is no absolute position embedding to draw; pick a model with "
            "learned position embeddings (e.g. ViT, DeiT, DINOv2) to see the similarity grid.")
    gh, gw = (int(g) for g in module.patch_embed.grid_size)
    rows, dim = pe.shape[-2], pe.shape[-1]
    n_prefix = rows - gh * gw
    if n_prefix < 0 or n_prefix > int(getattr(module, "num_prefix_tokens", n_prefix)):
        raise VizcoreError(f"The position embedding has {rows} rows but the patch grid is {gh} x {gw} with "
                           f"{getattr(module, 'num_prefix_tokens', '?')} prefix tokens; vizcore cannot tell "
                           "which rows belong to patches. Pick a standard timm ViT.")
    patch_rows = pe.detach().reshape(rows, dim)[n_prefix:].to("cpu", torch.float64)  # (gh*gw, D)
    return patch_rows.reshape(gh, gw, dim), n_prefix


def cosine_grid(pe) -> np.ndarray:
    """Cosine similarity of every patch's embedding to every other patch's: (gh, gw, D) -> (gh, gw, gh, gw)."""
    x = _grid_array(pe)
    gh, gw, dim = x.shape
    flat = x.reshape(gh * gw, dim)
    flat = flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-12)  # L2-normalise rows
    return (flat @ flat.T).reshape(gh, gw, gh, gw)


def similarity_grid(model) -> np.ndarray:
    """ViT Fig. 7 (centre): tile [r, c] is patch (r, c)'s position-embedding similarity to every patch.

    Args:
        model: a ViT handle or a timm module with an absolute position embedding.

    Returns:
        (gh, gw, gh, gw) float64 cosine similarities on the native grid; [r, c, r, c] = 1.
    """
    return cosine_grid(patch_position_embeddings(model)[0])


def resampled(model, input_hw: tuple[int, int]) -> torch.Tensor:
    """The patch position embeddings resampled to the grid of an `input_hw` (H, W) input: (gh', gw', D).

    Uses timm's public `resample_abs_pos_embed` with its defaults (bicubic, antialias), which is what timm's
    ViT does for `dynamic_img_size=True`. Prefix rows are never resampled, so they are left out here.
    """
    from timm.layers import resample_abs_pos_embed

    module = _module(model)
    pe, _ = patch_position_embeddings(module)  # (gh, gw, D)
    gh, gw, dim = pe.shape
    new = _grid_for(module, input_hw)
    out = resample_abs_pos_embed(pe.reshape(1, gh * gw, dim), new_size=list(new), old_size=[gh, gw],
                                 num_prefix_tokens=0)  # (1, gh'*gw', D)
    return out.reshape(*new, dim)


def _grid_for(module: nn.Module, input_hw: tuple[int, int]) -> tuple[int, int]:
    h, w = (int(v) for v in input_hw)
    ph, pw = (int(p) for p in module.patch_embed.patch_size)
    if h < ph or w < pw:
        raise InputError(f"An input of {h} x {w} pixels is smaller than one {ph} x {pw} patch; use a larger size.")
    pe = module.patch_embed
    if hasattr(pe, "dynamic_feat_size"):
        gh, gw = pe.dynamic_feat_size((h, w))
        return int(gh), int(gw)
    return h // ph, w // pw


def sincos_like(model) -> np.ndarray:
    """MAE's fixed 2-D sin-cos embedding for `model`'s native grid and width: (gh, gw, D), to compare."""
    module = _module(model)
    gh, gw = (int(g) for g in module.patch_embed.grid_size)
    dim = int(getattr(module, "embed_dim", 0) or patch_position_embeddings(module)[0].shape[-1])
    return sincos_2d(dim, (gh, gw)).reshape(gh, gw, dim)


def is_fixed_sincos(model, tol: float = 1e-4) -> bool:
    """Whether the model's patch position embeddings are MAE's fixed 2-D sin-cos table (`sincos_2d`), not learned.

    MAE encoders (and ViTs initialised from them with a frozen table) store the table as a parameter, so
    `requires_grad` cannot tell; the values can: every entry within `tol` of `sincos_2d` for this grid and width
    (float16 storage is within 1e-3 of it, so pass a larger `tol` for half-precision files).
    """
    module = _module(model)
    if not isinstance(getattr(module, "pos_embed", None), torch.Tensor):
        return False
    try:
        pe, _ = patch_position_embeddings(module)  # (gh, gw, D)
    except VizcoreError:
        return False
    gh, gw, dim = pe.shape
    if dim % 4:
        return False
    table = sincos_2d(dim, (gh, gw)).reshape(gh, gw, dim)
    return bool(np.abs(pe.numpy() - table).max() <= tol)


def gradient_fit(pcs) -> np.ndarray:
    """How much each principal component (k, gh, gw) is a smooth gradient across the grid: (k,) R² of the least-
    squares plane a·row + b·column + c through it (1 = a perfect ramp in some direction, ~0 = no 2-D order).

    A table that encodes a 2-D coordinate system has its leading components close to 1 (ViT Fig. 7's "row and
    column" structure); a random table has them near 0.
    """
    comps = np.asarray(pcs, dtype=np.float64)
    if comps.ndim != 3 or 0 in comps.shape:
        raise InputError(f"Expected components shaped (k, gh, gw); got {comps.shape}.")
    rows, cols = np.indices(comps.shape[1:])
    design = np.stack([rows.ravel(), cols.ravel(), np.ones(rows.size)], axis=1).astype(np.float64)  # (P, 3)
    out = np.zeros(len(comps))
    for i, c in enumerate(comps.reshape(len(comps), -1)):
        total = ((c - c.mean()) ** 2).sum()
        if total > 0:
            fit = design @ np.linalg.lstsq(design, c, rcond=None)[0]
            out[i] = 1.0 - ((c - fit) ** 2).sum() / total
    return out


def offset_similarity(pe) -> np.ndarray:
    """Mean cosine similarity of all patch pairs at each (row offset, column offset).

    Args:
        pe: (gh, gw, D) position embeddings.

    Returns:
        (2gh-1, 2gw-1) float64; entry [dr + gh-1, dc + gw-1] averages sim(p(r, c), p(r+dr, c+dc)) over every
        pair with that offset, so the centre is 1. An embedding that knows the 2-D layout decays smoothly with
        both offsets; one that only knows the raster index r*gw + c treats a one-row step like gw column steps.
    """
    sim = cosine_grid(pe)  # (gh, gw, gh, gw)
    gh, gw = sim.shape[:2]
    r, c = np.indices((gh, gw)).reshape(2, -1)  # (P,), (P,)
    dr = r[None, :] - r[:, None] + gh - 1  # (P, P) key row - query row, shifted to >= 0
    dc = c[None, :] - c[:, None] + gw - 1
    idx = (dr * (2 * gw - 1) + dc).ravel()
    size = (2 * gh - 1) * (2 * gw - 1)
    sums = np.bincount(idx, weights=sim.reshape(gh * gw, gh * gw).ravel(), minlength=size)
    counts = np.bincount(idx, minlength=size)
    return (sums / counts).reshape(2 * gh - 1, 2 * gw - 1)


def principal_components(pe, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The first `k` principal components of the patch embeddings, each drawn as an image over the grid.

    Args:
        pe: (gh, gw, D) position embeddings.

    Returns:
        pcs (k, gh, gw): each patch's coordinate along component i (centred data projected, float64), signed so
        that each component's largest-magnitude entry is positive; ratios (k,): explained variance ratios.
    """
    x = _grid_array(pe)
    gh, gw, dim = x.shape
    flat = x.reshape(gh * gw, dim)
    flat = flat - flat.mean(axis=0, keepdims=True)  # centre over patches
    u, s, _ = np.linalg.svd(flat, full_matrices=False)  # u (P, r), s (r,)
    k = max(1, min(int(k), len(s)))
    scores = u[:, :k] * s[:k]  # (P, k)
    signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(k)])
    scores = scores * np.where(signs == 0, 1.0, signs)
    total = float((s ** 2).sum())
    ratios = (s[:k] ** 2) / total if total > 0 else np.zeros(k)
    return scores.T.reshape(k, gh, gw), ratios


def _grid_array(pe) -> np.ndarray:
    x = pe.detach().cpu().double().numpy() if isinstance(pe, torch.Tensor) else np.asarray(pe, dtype=np.float64)
    if x.ndim != 3 or 0 in x.shape:
        raise InputError(f"Expected position embeddings shaped (gh, gw, D); got {tuple(x.shape)}.")
    return x
