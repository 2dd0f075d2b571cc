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
