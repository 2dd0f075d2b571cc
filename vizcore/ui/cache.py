"""Cached model loading (once per process) and cached results (keyed on content hashes, not big arrays)."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import streamlit as st
from PIL import Image

import vizcore as vc
from vizcore import attention


@st.cache_resource(max_entries=6, show_spinner="Loading model…")
def model(spec: str, pretrained: bool = True) -> vc.ModelHandle:
    """One handle per (spec, pretrained) per process; handles are thread-safe (see VitHandle.lock)."""
    return vc.load_model(spec, pretrained=pretrained)


def image_key(image: Image.Image) -> str:
    """Content hash of an image (cache key; st.cache_data would only sample a big array)."""
    h = hashlib.sha256(np.asarray(image).tobytes())
    h.update(repr((image.size, image.mode)).encode())
    return h.hexdigest()


@st.cache_data(max_entries=24, show_spinner="Computing attention…")
def attention_maps(spec: str, pretrained: bool, key: str, _image: Image.Image, fit: str,
                   target: int | None = None) -> attention.AttentionMaps:
    """Attention of `spec` on one image; `key` (content hash of `_image`) is what the cache sees."""
    return attention.capture(model(spec, pretrained), [_image], fit=fit, target=target)


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@st.cache_data(max_entries=8, show_spinner="Analysing position embeddings…")
def posembed_views(spec: str, pretrained: bool, input_hw: tuple[int, int]) -> dict:
    """Everything the Position embeddings page draws for one model (small arrays)."""
    from vizcore import posembed

    handle = model(spec, pretrained)
    pe, n_prefix = posembed.patch_position_embeddings(handle)  # (gh, gw, D)
    sincos = posembed.sincos_like(handle)  # (gh, gw, D)
    moved = posembed.resampled(handle, input_hw)  # (gh', gw', D)
    pcs, ratios = posembed.principal_components(pe, k=4)
    return {
        "grid": tuple(pe.shape[:2]), "dim": int(pe.shape[-1]), "prefix_rows": n_prefix,
        "scheme": posembed.position_scheme(handle),
        "similarity": posembed.cosine_grid(pe), "resampled": posembed.cosine_grid(moved),
        "resampled_grid": tuple(moved.shape[:2]), "sincos_similarity": posembed.cosine_grid(sincos),
        "offset": posembed.offset_similarity(pe), "sincos_offset": posembed.offset_similarity(sincos),
        "pcs": pcs, "ratios": ratios,
    }


@st.cache_data(max_entries=8, show_spinner="Running the images through every layer…")
def anatomy_views(spec: str, pretrained: bool, key: str, _images: list) -> dict:
    """Attention distance, CKA, residual norms and LayerNorm effect over a set of images (keyed on `key`).

    Every image is resized to the model's native size so the set forms one batch.
    """
    import torch

    from vizcore import anatomy

    handle = model(spec, pretrained)
    batch = torch.cat([handle.prepare([im]) for im in _images])  # (B, C, H, W)
    dist = []
    for x in batch:  # one image at a time keeps the (L, H, N, N) attention small
        maps = attention.capture(handle, x[None])
        dist.append(anatomy.mean_attention_distance(maps.attn, maps.layout))
    before, after = anatomy.layernorm_effect(handle, batch)
    feats = anatomy.layer_features(handle, batch, pooling="tokens")
    return {
        "distance": np.mean(dist, axis=0), "patch_size": maps.layout.patch_size,
        "residual": anatomy.residual_norms(handle, batch),
        "ln_before": before.ravel()[:200_000], "ln_after": after.ravel()[:200_000],
        "cka": anatomy.cka_matrix(feats, minibatch=None if feats[0].shape[0] <= 4096 else 1024),
        "n_images": len(_images), "n_tokens": int(feats[0].shape[0]),
    }
