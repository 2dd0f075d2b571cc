"""Cached results of the autoencoder and VAE pages: held-out splits, codes, paths, scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
import torch.nn.functional as F

import vizcore as vc
from vizcore.analysis import classify, latent
from vizcore.data import splits
from vizcore.data.sprites import BROWSE_SEED, BROWSE_SIZE, FACTORS, make_sprites
from vizcore.ui.cache.core import model

# ---- autoencoders and VAE latent spaces ---------------------------------------------------------------------------

@st.cache_resource(max_entries=4, show_spinner="Preparing the data set…")
def ae_split(dataset: str) -> tuple[vc.Dataset, vc.Dataset]:
    """(training, held-out) split of a data set, shared by every autoencoder view (see `data.splits.holdout`)."""
    return splits.holdout(dataset)


@st.cache_resource(max_entries=4, show_spinner=False)
def ae_heldout(dataset: str) -> vc.Dataset:
    """The held-out images of a data set; never draws generated training images."""
    return splits.heldout(dataset)


@dataclass(frozen=True)
class LatentSummary:
    """Held-out codes (VAE: posterior means) and, for VAEs, the per-dimension statistics."""

    codes: torch.Tensor  # (N, D)
    labels: np.ndarray
    label_names: tuple[str, ...]
    stats: latent.LatentStats | None  # VAEs only


@st.cache_data(max_entries=16, show_spinner="Encoding the held-out images…")
def latent_summary(spec: str, pretrained: bool) -> LatentSummary:
    handle = model(spec, pretrained)
    test = ae_heldout(handle.dataset)
    stats = latent.latent_stats(handle, test.images) if handle.variational else None
    return LatentSummary(handle.encode(test.images), test.labels, test.label_names, stats)


@st.cache_data(max_entries=32, show_spinner="Decoding the path…")
def latent_paths(spec: str, pretrained: bool, key: str, _z0, _z1, frames: int = 101) -> dict:
    """{method: `latent.InterpolationPath`} for slerp and lerp, `frames` decoded steps each (keyed on `key`)."""
    handle = model(spec, pretrained)
    return {m: latent.interpolation_path(handle, _z0, _z1, frames, method=m) for m in latent.METHODS}


@st.cache_data(max_entries=16, show_spinner="Reconstructing the held-out images…")
def heldout_mse(spec: str, pretrained: bool) -> float:
    handle = model(spec, pretrained)
    return float(latent.reconstruction_mse(handle, ae_heldout(handle.dataset).images).mean())


@st.cache_data(max_entries=4, show_spinner="Fitting PCA for every k…")
def pca_curve(dataset: str, size: tuple[int, int], ks: tuple[int, ...]) -> tuple[float, ...]:
    """Held-out PCA reconstruction MSE for each k, on images resized to `size` (the models' input)."""
    train, test = ae_split(dataset)

    def flat(x: torch.Tensor) -> np.ndarray:
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True)
        return x.flatten(1).numpy()

    return tuple(classify.pca_reconstruction_mse(flat(train.images), flat(test.images), k) for k in ks)


@st.cache_data(max_entries=16, show_spinner="Training classifiers on codes, PCA and pixels…")
def probe_table(spec: str, pretrained: bool) -> tuple[classify.ProbeResult, ...]:
    """Held-out accuracy of a logistic regression on the model's code, PCA (same k) and raw pixels."""
    handle = model(spec, pretrained)
    train, test = ae_split(handle.dataset)
    return tuple(classify.compare_features(handle, train.images, train.labels, test.images, test.labels))


@st.cache_data(show_spinner=False)
def sprite_factors() -> dict[str, np.ndarray]:
    """The held-out sprites' true factors (x, y, scale, ...), name -> (N,)."""
    f = make_sprites(BROWSE_SIZE, seed=BROWSE_SEED).factors
    return {name: f[:, i] for i, name in enumerate(FACTORS)}


@st.cache_data(show_spinner="Scoring every β…")
def beta_rows(specs: tuple[str, ...]) -> tuple[latent.TradeoffPoint, ...]:
    """Held-out MSE, KL and active dimensions of each VAE of one family (trained at several beta values)."""
    handles = [model(s, True) for s in specs]
    return tuple(latent.beta_tradeoff(handles, ae_heldout(handles[0].dataset).images))
