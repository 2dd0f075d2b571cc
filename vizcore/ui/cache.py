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


# ---- autoencoders and VAE latent spaces (issue 4) -----------------------------------------------------------------

@st.cache_resource(max_entries=4, show_spinner="Preparing the data set…")
def ae_split(dataset: str):
    """(training, held-out) split of a data set, shared by every autoencoder view (see train_ae.holdout)."""
    from vizcore import train_ae

    return train_ae.holdout(dataset)


@st.cache_resource(max_entries=4, show_spinner=False)
def ae_heldout(dataset: str):
    """The held-out images of a data set (see train_ae.heldout); never draws generated training images."""
    from vizcore import train_ae

    return train_ae.heldout(dataset)


@st.cache_data(max_entries=16, show_spinner="Encoding the held-out images…")
def latent_summary(spec: str, pretrained: bool) -> dict:
    """Held-out codes (VAE: posterior means) and, for VAEs, KL / activity per dimension."""
    from vizcore import latent

    handle = model(spec, pretrained)
    test = ae_heldout(handle.dataset)
    out = {"codes": handle.encode(test.images), "labels": test.labels, "label_names": test.label_names}
    if handle.kind == "vae":
        s = latent.latent_stats(handle, test.images)
        out |= {"kl": s.kl, "mu_var": s.mu_var, "active": s.active, "order": s.order, "sigma": s.mean_sigma}
    return out


@st.cache_data(max_entries=32, show_spinner="Decoding the path…")
def latent_paths(spec: str, pretrained: bool, key: str, _z0, _z1, frames: int = 101) -> dict:
    """Both interpolations (slerp and lerp) between two codes, `frames` decoded steps each (keyed on `key`)."""
    from vizcore import latent

    handle = model(spec, pretrained)
    return {m: latent.interpolation_path(handle, _z0, _z1, frames, method=m) for m in latent.METHODS}


@st.cache_data(max_entries=16, show_spinner="Reconstructing the held-out images…")
def heldout_mse(spec: str, pretrained: bool) -> float:
    from vizcore import latent

    handle = model(spec, pretrained)
    return float(latent.reconstruction_mse(handle, ae_heldout(handle.dataset).images).mean())


@st.cache_data(max_entries=4, show_spinner="Fitting PCA for every k…")
def pca_curve(dataset: str, size: tuple[int, int], ks: tuple[int, ...]) -> list[float]:
    """Held-out PCA reconstruction MSE for each k, on images resized to `size` (the models' input)."""
    import torch.nn.functional as F

    from vizcore import classify

    train, test = ae_split(dataset)

    def flat(x):
        return F.interpolate(x, size=size, mode="bilinear", antialias=True).flatten(1).numpy() \
            if tuple(x.shape[-2:]) != size else x.flatten(1).numpy()

    return [classify.pca_reconstruction_mse(flat(train.images), flat(test.images), k) for k in ks]


@st.cache_data(max_entries=16, show_spinner="Training classifiers on codes, PCA and pixels…")
def probe_table(spec: str, pretrained: bool) -> list[dict]:
    """Held-out accuracy of a logistic regression on the model's code, PCA (same k) and raw pixels."""
    from dataclasses import asdict

    from vizcore import classify

    handle = model(spec, pretrained)
    train, test = ae_split(handle.dataset)
    return [asdict(p) for p in classify.compare_features(handle, train.images, train.labels, test.images,
                                                         test.labels)]
