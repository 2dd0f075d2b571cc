"""Embeddings: one feature vector per image, from any model handle or from the pixels themselves.

Sources `compute` understands:

- ViT-like handles (kinds "vit", "mae"): one token per image at a block's output, pooled as the CLS token or the mean
  of the patch tokens. The last block means the model's *final features*: timm's `forward_features` (which applies
  the final `norm`), pooled, then `fc_norm` when the model has one, i.e. exactly timm's
  `forward_head(..., pre_logits=True)` for that pooling. That is the frozen-feature protocol of DINO's kNN
  evaluation (Caron et al. 2021, the normed CLS output) and MAE's linear probe (He et al. 2022). Earlier layers are
  raw block outputs (no norm), the same tensors `handle.intermediates` returns.
- Autoencoder handles (kinds "ae", "sae", "vae"): the code `handle.encode` returns (bottleneck, sparse code, the
  VAE's mean mu). There is one code, so only `layer=-1` is accepted; `pooling` is validated but has no effect.
- "pixels": the raw pixels flattened; "pca:<k>": their first k principal components (fitted on the images given).
- Any other string is a model spec and is loaded with `vizcore.load_model` (the app passes cached handles instead).

Results are pure functions of (source, images, layer, pooling, seed): the app caches them on
(data set name, source spec, layer, pooling).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from vizcore.analysis.tokens import POOLINGS, layer_index, layer_tokens, pool_tokens
from vizcore.errors import InputError, ModelError
from vizcore.io.images import to_tensor_batch
from vizcore.models import list_models, load_model
from vizcore.models.protocols import AutoencoderHandle, ModelInfo, ViTHandle

TOKEN_KINDS = ("vit", "mae")  # model kinds listed as sources with layers (ViTHandle)
CODE_KINDS = ("ae", "sae", "vae")  # model kinds listed as sources with one code (AutoencoderHandle)
PIXEL_SOURCES = {"pixels": "Raw pixels", "pca:50": "PCA of the pixels (50 components)"}
BATCH_SIZE = 64  # images per forward pass: ~40 MB of activations for ViT-S/16 at 224 px

Progress = Callable[[int, int], object]  # progress(done, total) after each batch


def compute(model, images, *, layer: int = -1, pooling: str = "cls", batch_size: int = BATCH_SIZE,
            progress: Progress | None = None, seed: int = 0) -> np.ndarray:
    """One feature vector per image.

    Args:
        model: a model handle (kinds "vit", "mae", "ae", "sae", "vae"), "pixels", "pca:<k>" or a model spec.
        images: float tensor (N, C, H, W) in [0, 1] or a list of PIL images (sizes may differ for model handles:
            each handle resizes to its own input size; greyscale is repeated to 3 channels when the model wants 3).
        layer: block whose output is read, 0-based; negative counts from the end, -1 = the final normed features.
            Autoencoders, "pixels" and "pca:<k>" give one vector per image: only -1 is accepted.
        pooling: "cls" (the CLS token; an error for models without one; for DeiT-distilled models the CLS token
            alone, not timm's CLS/distillation average) or "mean" (mean of the patch tokens, never the CLS,
            distillation or register tokens). Ignored by sources without tokens.
        batch_size: images per forward pass (results do not depend on it beyond float rounding).
        progress: called as progress(done, total) after each batch.
        seed: random state of the PCA solver ("pca:<k>" only).

    Returns:
        (N, D) float32 array (D = k for "pca:<k>", C*H*W for "pixels").

    Raises:
        InputError: no images, an unknown pooling, a layer the model does not have, "cls" without a CLS token.
        ModelError: a model kind that has no embeddings.
    """
    if pooling not in POOLINGS:
        raise InputError(f"Unknown pooling '{pooling}'. Use one of {', '.join(POOLINGS)}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    images = _as_images(images)
    if isinstance(model, str) and _is_pixel_source(model):
        out = _pixel_features(model, images, layer, seed)
        if progress is not None:
            progress(len(out), len(out))
        return out
    if isinstance(model, str):
        model = load_model(model)
    if isinstance(model, ViTHandle):
        embed = _token_embedder(model, layer, pooling)
    elif isinstance(model, AutoencoderHandle):
        _check_single_code(layer, model.info.title)
        embed = model.encode
    else:
        info = getattr(model, "info", None)
        what = f"{info.title} (kind '{info.kind}')" if info else type(model).__name__
        raise ModelError(f"Cannot compute embeddings with {what}: it is neither a ViT nor an autoencoder handle. "
                         "Pick a ViT, MAE or autoencoder, or use 'pixels' / 'pca:<k>'.")
    return _batched(model, images, embed, batch_size, progress)


def raw_pixels(images, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Images -> (N, C*H*W) float32 in [0, 1], resized to `size` (H, W) first when given.

    Without `size`, all images must share one size (pass `size` for a folder of mixed photos).
    """
    images = _as_images(images)
    if size is None:
        x = to_tensor_batch(images)  # (N, C, H, W)
    else:
        hw = (size, size) if isinstance(size, int) else tuple(size)
        parts = [images] if isinstance(images, torch.Tensor) else [[im] for im in images]
        x = torch.cat([_resize(to_tensor_batch(p), hw) for p in parts])  # (N, C, h, w)
    return np.array(x.flatten(1), dtype=np.float32)  # (N, C*H*W), a copy: callers may scale it in place


def pca_features(images, k: int, seed: int = 0, *, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """Images -> (N, k) float32: the raw pixels projected on their own first k principal components."""
    from sklearn.decomposition import PCA

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"PCA needs a positive number of components, got {k!r}; e.g. 'pca:50'.")
    X = raw_pixels(images, size)  # (N, P)
    if len(X) < 2:
        raise InputError("PCA needs at least two images; select more images or use 'pixels'.")
    n = min(k, X.shape[0], X.shape[1])
    return PCA(n_components=n, random_state=seed).fit_transform(X).astype(np.float32)  # (N, n)


def list_sources(pca_components: tuple[int, ...] = (50,)) -> list[ModelInfo]:
    """Everything `compute` can embed with: pixels, PCA, then every listed model of a supported kind.

    Each entry's `spec` is what `compute` (and the app's cache key) takes; `kind` is "pixels", "pca" or the
    model's kind; `offline` is False for models whose weights are not on this machine.
    """
    out = [ModelInfo("pixels", PIXEL_SOURCES["pixels"], "pixels", "Every pixel value, flattened.")]
    out += [ModelInfo(f"pca:{k}", f"PCA of the pixels ({k} components)", "pca",
                      f"The first {k} principal components of the pixels of the images shown.")
            for k in pca_components]
    return out + [m for m in list_models() if m.kind in TOKEN_KINDS + CODE_KINDS]


# ---- ViT-like handles ---------------------------------------------------------------------------------------------

def _token_embedder(handle, layer: int, pooling: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function prepared images (B, C, H, W) -> pooled features (B, D) for a ViT-like handle."""
    index = layer_index(layer, handle.num_layers)
    final = index == handle.num_layers - 1

    def embed(x: torch.Tensor) -> torch.Tensor:
        layout = handle.layout(tuple(x.shape[-2:]))
        if pooling == "cls" and not layout.has_cls:
            raise InputError(f"{handle.info.title} has no CLS token (its prefix tokens: "
                             f"{', '.join(layout.prefix_names) or 'none'}). Use pooling='mean'.")
        t = layer_tokens(handle, x, [index], final_norm=True)[0]  # (B, N, D); the last block through `norm`
        if t.shape[1] != layout.num_tokens:
            raise ModelError(f"{handle.info.title} returned {t.shape[1]} tokens where its layout has "
                             f"{layout.num_tokens}; the model's token layout is not one vizcore can read.")
        v = pool_tokens(t, layout, pooling)  # (B, D)
        fc_norm = getattr(handle.module, "fc_norm", None) if final else None
        return fc_norm(v) if isinstance(fc_norm, nn.Module) else v

    return embed


def _check_single_code(layer: int, title: str) -> None:
    if layer != -1:
        raise InputError(f"{title} gives one vector per image, so it has no layers to choose from (layer={layer}). "
                         "Leave layer at -1; layers apply to ViT and MAE models.")


# ---- batching and inputs ------------------------------------------------------------------------------------------

def _batched(handle, images, embed: Callable[[torch.Tensor], torch.Tensor], batch_size: int,
             progress: Progress | None) -> np.ndarray:
    """Prepare and embed `images` batch by batch into one (N, D) float32 array."""
    n = len(images)
    out: np.ndarray | None = None
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            x = _prepare(handle, images[start:start + batch_size])  # (B, C, H, W) at the model's size
            v = embed(x).float()  # (B, D)
            if out is None:
                out = np.empty((n, v.shape[1]), np.float32)
            out[start:start + len(v)] = v.numpy()
            if progress is not None:
                progress(start + len(v), n)
    return out


def _prepare(handle, chunk) -> torch.Tensor:
    """The handle's own preprocessing; PIL images of mixed sizes are prepared one by one."""
    if isinstance(chunk, torch.Tensor) or len({im.size for im in chunk}) <= 1:
        return handle.prepare(chunk)
    return torch.cat([handle.prepare([im]) for im in chunk])


def _as_images(images):
    """A (B, C, H, W) / (C, H, W) tensor or PIL image(s) -> something sliceable with len(); rejects no images."""
    if isinstance(images, Image.Image):
        images = [images]
    elif isinstance(images, torch.Tensor) and images.ndim == 3:
        images = images[None]
    elif isinstance(images, tuple):
        images = list(images)
    if isinstance(images, list) and not all(isinstance(im, Image.Image) for im in images):
        images = to_tensor_batch(images)  # a list of (C, H, W) tensors
    if not isinstance(images, (torch.Tensor, list)):
        raise InputError(f"Cannot embed {type(images).__name__}: pass a (N, C, H, W) tensor or a list of PIL images.")
    if len(images) == 0:
        raise InputError("No images were given. Select at least one image to embed.")
    return images


def _resize(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == hw:
        return x
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def _is_pixel_source(spec: str) -> bool:
    return spec == "pixels" or spec.startswith("pca:")


def _pixel_features(spec: str, images, layer: int, seed: int) -> np.ndarray:
    _check_single_code(layer, PIXEL_SOURCES.get(spec, spec))
    if spec == "pixels":
        return raw_pixels(images)
    k = spec.partition(":")[2]
    if not k.isdigit():
        raise InputError(f"'{spec}' is not a PCA source. Write pca:<components>, e.g. pca:50.")
    return pca_features(images, int(k), seed)
