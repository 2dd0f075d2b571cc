"""Cached results of the ViT pages: attention maps, position-embedding views, anatomy over images, MAE."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
from PIL import Image

from vizcore.analysis import anatomy, attention, mae, posembed
from vizcore.ui.cache.core import model

# ---- ViT views ----------------------------------------------------------------------------------------------------

@st.cache_data(max_entries=24, show_spinner="Computing attention…")
def attention_maps(spec: str, pretrained: bool, key: str, _image: Image.Image, fit: str,
                   target: int | None = None) -> attention.AttentionMaps:
    """Attention of `spec` on one image; `key` (content hash of `_image`) is what the cache sees.

    With no `target`, a model with a classifier head is captured with the gradients of its predicted class
    (`attention.PREDICTED`, `maps.target` names it): the Gradient rollout view of that class, the one it opens
    with, reuses this forward and backward pass instead of a second capture. The attention and logits are those
    of a capture without gradients."""
    handle = model(spec, pretrained)
    if target is None and handle.has_head:
        target = attention.PREDICTED
    return attention.capture(handle, [_image], fit=fit, target=target)


@dataclass(frozen=True)
class PosembedViews:
    """Everything the Position embeddings page draws for one model (small arrays)."""

    grid: tuple[int, int]
    dim: int
    prefix_rows: int
    scheme: str
    similarity: np.ndarray  # (gh, gw, gh, gw)
    resampled: np.ndarray  # (gh', gw', gh', gw')
    resampled_grid: tuple[int, int]
    sincos_similarity: np.ndarray  # (gh, gw, gh, gw)
    offset: np.ndarray
    sincos_offset: np.ndarray
    pcs: np.ndarray
    ratios: np.ndarray


@st.cache_data(max_entries=8, show_spinner="Analysing position embeddings…")
def posembed_views(spec: str, pretrained: bool, input_hw: tuple[int, int]) -> PosembedViews:
    handle = model(spec, pretrained)
    pe, n_prefix = posembed.patch_position_embeddings(handle)  # (gh, gw, D)
    sincos = posembed.sincos_like(handle)  # (gh, gw, D)
    moved = posembed.resampled(handle, input_hw)  # (gh', gw', D)
    pcs, ratios = posembed.principal_components(pe, k=4)
    return PosembedViews(
        grid=tuple(pe.shape[:2]), dim=int(pe.shape[-1]), prefix_rows=n_prefix,
        scheme=posembed.position_scheme(handle), similarity=posembed.cosine_grid(pe),
        resampled=posembed.cosine_grid(moved), resampled_grid=tuple(moved.shape[:2]),
        sincos_similarity=posembed.cosine_grid(sincos), offset=posembed.offset_similarity(pe),
        sincos_offset=posembed.offset_similarity(sincos), pcs=pcs, ratios=ratios)


@dataclass(frozen=True)
class AnatomyViews:
    """Attention distance, residual norms, LayerNorm effect and CKA over a set of images."""

    distance: np.ndarray  # (L, H) pixels
    patch_size: tuple[int, int]
    residual: np.ndarray  # (L + 1,)
    ln_before: np.ndarray  # (<= 200k,)
    ln_after: np.ndarray
    cka: np.ndarray  # (L, L)
    n_images: int
    n_tokens: int


@st.cache_data(max_entries=8, show_spinner="Running the images through every layer…")
def anatomy_views(spec: str, pretrained: bool, key: str, _images: list) -> AnatomyViews:
    """Over `_images` (keyed on `key`), each resized to the model's native size so the set forms one batch."""
    handle = model(spec, pretrained)
    batch = torch.cat([handle.prepare([im]) for im in _images])  # (B, C, H, W)
    dist = []
    for x in batch:  # one image at a time keeps the (L, H, N, N) attention small
        maps = attention.capture(handle, x[None])
        dist.append(anatomy.mean_attention_distance(maps.attn, maps.layout))
    before, after = anatomy.layernorm_effect(handle, batch)
    feats = anatomy.layer_features(handle, batch, pooling="tokens")
    return AnatomyViews(
        distance=np.mean(dist, axis=0), patch_size=maps.layout.patch_size,
        residual=anatomy.residual_norms(handle, batch), ln_before=before.ravel()[:200_000],
        ln_after=after.ravel()[:200_000],
        cka=anatomy.cka_matrix(feats, minibatch=None if feats[0].shape[0] <= 4096 else 1024),
        n_images=len(_images), n_tokens=int(feats[0].shape[0]))


# ---- MAE ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reconstruction:
    """The four panels, mask, per-patch error and kept count for each image of a batch."""

    panels: tuple[torch.Tensor, ...]  # 4 x (B, C, H, W): original, masked, reconstruction, pasted
    mask: torch.Tensor  # (B, g, g), 1 = hidden
    error: torch.Tensor  # (B, g, g)
    kept: int
    hidden_mse: tuple[float, ...]  # per image


@st.cache_data(max_entries=64, show_spinner="Reconstructing…")
def reconstruction(spec: str, pretrained: bool, key: str, _images: list, masking) -> Reconstruction:
    """`masking` (a hashable `mae_views.Masking`) gives ratio, strategy, seed and noise; `key` names the images."""
    handle = model(spec, pretrained)
    x = torch.cat([handle.prepare([im]) for im in _images])  # (B, C, H, W): each image resized on its own
    r = mae.reconstruct(handle, x, mask_ratio=masking.ratio, unnormalize=masking.unnormalize,
                        noise=masking.noise(handle, x))
    g = handle.cfg.grid
    err = r.patch_error.flatten(1)  # (B, L)
    hidden = ((err * r.mask).sum(1) / r.mask.sum(1).clamp_min(1)).tolist()
    return Reconstruction((r.original, r.masked, r.reconstruction, r.pasted), r.mask.reshape(-1, g, g),
                          r.patch_error, r.kept, tuple(hidden))


@st.cache_data(max_entries=32, show_spinner=False)
def focus_region(spec: str, pretrained: bool, key: str, _images: list, masking) -> tuple[np.ndarray, np.ndarray | None]:
    """The focus region (g, g) in [0, 1] `masking` used for image 0 and, for a rollout region, the rollout (gh, gw)."""
    handle = model(spec, pretrained)
    x = torch.cat([handle.prepare([im]) for im in _images])  # (B, C, H, W), as `reconstruction` prepares them
    region, rollout = masking.focus(handle, x)
    region = region[0] if region.ndim == 3 else region
    return region.numpy().astype(np.float32), None if rollout is None else rollout[0].numpy().astype(np.float64)
