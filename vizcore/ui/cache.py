"""The app's one cache: models once per process, results keyed on names and content hashes (never on big arrays).

Every cached function returns a handle, an image, a number or a frozen dataclass. Keys are what Streamlit hashes:
spec strings, widget values and content keys (`sha256` of the upload bytes, taken once by `widgets`); arguments
whose names start with `_` (images, arrays) are not hashed (see DESIGN "Known traps": `st.cache_data` hashes big
arrays from a sample). Progress bars are created inside the long cached functions, so a cache hit replays and
clears them.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch
import torch.nn.functional as F
from PIL import Image

import vizcore as vc
import vizcore.analysis.neighbors as neighbors
from vizcore.analysis import anatomy, attention, classify, embeddings, latent, mae, posembed, projection, scores
from vizcore.data import embedding_store, image_stream, imagesets, sample_images, splits, vector_sets
from vizcore.data.scenes import sample_scenes
from vizcore.data.sprites import BROWSE_SEED, BROWSE_SIZE, FACTORS, make_sprites
from vizcore.export import embed_job
from vizcore.io import vectors as user_vectors

UPLOAD_SIDE = 1024  # longest side kept of an upload: every view works at model resolution (at most 518 px)


# ---- models and images ---------------------------------------------------------------------------------------------

@st.cache_resource(max_entries=6, show_spinner="Loading model…")
def model(spec: str, pretrained: bool = True) -> vc.ModelHandle:
    """One handle per (spec, pretrained) per process; handles are thread-safe (every use holds `handle.lock`)."""
    return vc.load_model(spec, pretrained=pretrained)


@st.cache_data(ttl=60, show_spinner=False)
def model_infos() -> tuple[vc.ModelInfo, ...]:
    """Every listed model (bundled and curated timm), with whether its weights are here."""
    return tuple(vc.list_models())


def model_specs(kind: str) -> list[str]:
    """Specs of the listed models of one kind, e.g. every bundled "vae"."""
    return [i.spec for i in model_infos() if i.kind == kind]


@st.cache_data(ttl=60, show_spinner=False)
def embedding_sources() -> tuple[vc.ModelInfo, ...]:
    """Pixels, PCA and every model `embeddings.compute` can use."""
    return tuple(embeddings.list_sources())


def bytes_key(data: bytes) -> str:
    """Content key of an upload: the sha256 of its bytes (hashed once, where the bytes arrive)."""
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=32, show_spinner=False)
def decoded_upload(key: str, _data: bytes) -> Image.Image:
    """The decoded upload (keyed on `key`, its bytes' sha256), shrunk to at most UPLOAD_SIDE px."""
    image = vc.load_image(_data)
    image.thumbnail((UPLOAD_SIDE, UPLOAD_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return image


def image_key(image: Image.Image) -> str:
    """Content hash of a decoded image (for images that did not arrive as bytes)."""
    h = hashlib.sha256(np.asarray(image).tobytes())
    h.update(repr((image.size, image.mode)).encode())
    return h.hexdigest()


@st.cache_resource(show_spinner=False)
def samples() -> dict[str, tuple[Image.Image, str]]:
    """The bundled sample images (scenes, then photos), each with its content key, hashed once per process."""
    scenes = {f"scene {i + 1}: {name}": im for i, (name, im) in enumerate(sample_scenes())}
    return {name: (im, image_key(im)) for name, im in (scenes | sample_images()).items()}


def png_bytes(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# ---- ViT views ----------------------------------------------------------------------------------------------------

@st.cache_data(max_entries=24, show_spinner="Computing attention…")
def attention_maps(spec: str, pretrained: bool, key: str, _image: Image.Image, fit: str,
                   target: int | None = None) -> attention.AttentionMaps:
    """Attention of `spec` on one image; `key` (content hash of `_image`) is what the cache sees."""
    return attention.capture(model(spec, pretrained), [_image], fit=fit, target=target)


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


# ---- embedding projector ------------------------------------------------------------------------------------------

@st.cache_resource(max_entries=4, show_spinner=False)
def upload_set(sha: str, name: str, _blob: bytes, max_images: int) -> imagesets.ImageSet:
    """The images of an uploaded zip, keyed by its sha256 (`_blob` itself is never hashed by Streamlit)."""
    bar = st.progress(0.0, text=f"Reading {name}…")
    upload = io.BytesIO(_blob)
    upload.name = name  # messages name the user's file
    try:
        return imagesets.from_zip(upload, max_images=max_images, progress=throttled(bar, "Decoding"))
    finally:
        bar.empty()


def throttled(bar, verb: str):
    """A progress(done, total) callback that redraws `bar` at most 100 times."""
    last = [-1]

    def update(done: int, total: int) -> None:
        pct = int(100 * done / max(total, 1))
        if pct != last[0]:
            last[0] = pct
            bar.progress(pct / 100, text=f"{verb}: {done:,} of {total:,} images")

    return update


@st.cache_resource(max_entries=8, show_spinner=False)
def features(data_key: str, source, _dataset: vc.Dataset) -> np.ndarray:
    """(N, D) float32 features of every image of `_dataset` (named `data_key`), read-only: shared by sessions.

    `source` is a hashable `projector_state.Source` (spec, pretrained, layer, pooling, title)."""
    store = embedding_store.store_dir(data_key, source.spec, source.pretrained, source.layer, source.pooling)
    X = embedding_store.load_matrix(store)  # computed before, by this or another session or process
    if X is not None and len(X) == len(_dataset):
        return X
    spec = source.spec if source.spec.startswith("pca:") else model(source.spec, source.pretrained)
    n = len(_dataset)
    bar = st.progress(0.0, text=f"Embedding {n:,} images with {source.title}…")
    try:
        X = embeddings.compute(spec, _dataset.images, layer=source.layer, pooling=source.pooling,
                               progress=throttled(bar, f"Embedding with {source.title}"))
    finally:
        bar.empty()
    embedding_store.save_matrix(store, X)
    X.flags.writeable = False
    return X


@st.cache_data(max_entries=16, show_spinner="Counting the images in the zip…")
def kept_upload(sha: str, name: str, _blob: bytes) -> tuple[str, int]:
    """The upload kept on disk (path) and how many images it lists, keyed by its sha256."""
    path = embedding_store.keep_upload(sha, name, _blob)
    return str(path), image_stream.count_images(path)


@st.cache_resource(max_entries=4, show_spinner=False)
def embedded_upload(data_key: str, source, zip_path: str) -> user_vectors.Vectors:
    """A large zip upload embedded in batches by the `vizcore embed` job into the disk store (resumed if cut off)."""
    store = embedding_store.store_dir(data_key, source.spec, source.pretrained, source.layer, source.pooling)
    job = embed_job.EmbedJob(zip_path, source.spec, source.layer, source.pooling, source.pretrained)
    bar = st.progress(0.0, text=f"Embedding the images with {source.title} (kept on disk for next time)…")
    try:
        handle = "pixels" if source.spec == "pixels" else model(source.spec, source.pretrained)
        embed_job.run_local(job, store, progress=throttled(bar, f"Embedding with {source.title}"), handle=handle)
    finally:
        bar.empty()
    return user_vectors.load(store)


@st.cache_data(max_entries=48, show_spinner=False)
def projection_of(data_key: str, source, method, _X: np.ndarray) -> projection.Projection:
    return projection.run(_X, method=method.method, dims=method.dims, seed=method.seed, **dict(method.params))


@st.cache_data(max_entries=64, show_spinner=False)
def knn_score(data_key: str, source, _X: np.ndarray, _labels: np.ndarray) -> scores.Score:
    return scores.knn_accuracy(_X, _labels, k=20, metric="cosine")


@st.cache_data(max_entries=64, show_spinner=False)
def probe_score(data_key: str, source, _X: np.ndarray, _labels: np.ndarray) -> scores.Score:
    return scores.linear_probe_accuracy(_X, _labels)


@st.cache_data(max_entries=64, show_spinner=False)
def trust_score(data_key: str, source, method, _X: np.ndarray, _Y: np.ndarray) -> scores.Score:
    """Trustworthiness with k = 10 neighbours (fewer for tiny sets: k must stay below N / 2)."""
    return scores.trustworthiness(_X, _Y, k=max(1, min(10, (min(len(_X), scores.TRUST_MAX_POINTS) - 1) // 2)))


# ---- the projector's own vectors ----------------------------------------------------------------------------------

@st.cache_resource(max_entries=4, show_spinner=False)
def uploaded_vectors(key: str, _files: tuple[tuple[str, bytes], ...]) -> user_vectors.Vectors:
    """Uploaded vectors (one file, or a .npy / vectors.tsv and its metadata file), keyed by the sha256 of the files."""
    return user_vectors.load_uploads(_files)


@st.cache_resource(max_entries=4, show_spinner=False)
def path_vectors(path: str, stamp: tuple) -> user_vectors.Vectors:
    """Vectors from a file or `vizcore embed` folder on this server, re-read when `stamp` (sizes, times) changes."""
    return user_vectors.load(path)


@st.cache_resource(max_entries=4, show_spinner=False)
def vector_dataset(key: str, _vectors: user_vectors.Vectors) -> vc.Dataset:
    return vector_sets.as_dataset(_vectors, f"vectors:{key[:16]}")


@st.cache_resource(max_entries=8, show_spinner=False)
def neighbor_index(data_key: str, source, metric: str, _X: np.ndarray) -> neighbors.NeighborIndex:
    """One exact neighbour index per (data, source, metric): a click is one float32 scan + an exact re-rank."""
    return neighbors.NeighborIndex(_X, metric)
