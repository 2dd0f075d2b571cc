"""Models once per process, model lists, upload decoding and the sample images with their content keys."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import streamlit as st
from PIL import Image

import vizcore as vc
from vizcore.analysis import embeddings
from vizcore.data import sample_images
from vizcore.data.scenes import sample_scenes
from vizcore.models import random_twin

UPLOAD_SIDE = 1024  # longest side kept of an upload: every view works at model resolution (at most 518 px)


# ---- models and images ---------------------------------------------------------------------------------------------

@st.cache_resource(max_entries=6, show_spinner="Loading model…")
def model(spec: str, pretrained: bool = True) -> vc.ModelHandle:
    """One handle per (spec, pretrained) per process; handles are thread-safe (every use holds `handle.lock`).
    Random weights are `random_twin`'s (seed 0): the same model after an eviction, so nothing kept from an earlier
    load (a flip-book, a figure) ever describes other weights than the page's."""
    return vc.load_model(spec, pretrained=True) if pretrained else random_twin(spec)


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
