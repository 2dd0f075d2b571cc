"""Shared sidebar controls: model picker, image picker, display options. Drawn by one helper each."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import streamlit as st
from PIL import Image

import vizcore as vc
from vizcore import render
from vizcore.ui.errors import inline_errors

OTHER_TIMM = "other-timm"
LOCAL_FILE = "local-file"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
FITS = {"resize": "Resize to the model's size", "crop": "Centre crop", "keep_aspect": "Keep aspect ratio"}


@dataclass(frozen=True)
class ModelChoice:
    spec: str
    pretrained: bool


@st.cache_data(ttl=60, show_spinner=False)
def _model_infos(kinds: tuple[str, ...]) -> list[vc.ModelInfo]:
    return [i for i in vc.list_models() if i.kind in kinds]


def model_picker(*kinds: str) -> ModelChoice:
    """Pick a bundled or timm model of `kinds` (default "vit"; curated list, free text) or a local checkpoint;
    random weights explicit."""
    kinds = kinds or ("vit",)
    infos = {i.spec: i for i in sorted(_model_infos(kinds), key=lambda i: kinds.index(i.kind))}  # first kind first
    labels = {s: i.title + ("" if i.offline else " · weights not on this machine") for s, i in infos.items()}
    labels |= {OTHER_TIMM: "Other timm model…", LOCAL_FILE: "Local checkpoint file…"}
    side = st.sidebar
    choice = side.selectbox("Model", list(labels), format_func=labels.get, key="model_choice")
    spec = choice
    if choice == OTHER_TIMM:
        name = side.text_input("timm model name", placeholder="vit_small_patch16_224.dino", key="timm_name")
        spec = f"timm:{name.strip()}" if name.strip() else ""
    elif choice == LOCAL_FILE:
        path = side.text_input("Checkpoint path on this server", placeholder="/models/vit.safetensors", key="ckpt")
        arch = side.text_input("timm architecture (not needed for MAE checkpoints or with a model card beside it)",
                               key="ckpt_arch")
        spec = f"file:{path.strip()}" + (f"?arch={arch.strip()}" if arch.strip() else "") if path.strip() else ""
    random = side.toggle("Random weights (untrained)", value=False, key="random_weights",
                         help="Explore the architecture without pretrained weights. Maps are then meaningless "
                              "noise patterns, and every view says so.")
    if not spec:
        st.info("Enter a model in the sidebar to continue.")
        st.stop()
    return ModelChoice(spec, not random)


def sample_names() -> list[str]:
    return list(_samples())


@lru_cache(maxsize=1)
def _samples() -> dict[str, Image.Image]:
    from vizcore.scenes import sample_scenes

    scenes = {f"scene {i + 1}: {name}": im for i, (name, im) in enumerate(sample_scenes())}
    return scenes | vc.data.sample_images()


UPLOAD_SIDE = 1024  # longest side kept of an upload: every view works at model resolution (at most 518 px)


@st.cache_data(max_entries=32, show_spinner=False)
def _decode_upload(data: bytes) -> Image.Image:
    """The decoded upload, shrunk to at most UPLOAD_SIDE px (so the cache does not pickle 100 MB per rerun)."""
    image = vc.load_image(data)
    image.thumbnail((UPLOAD_SIDE, UPLOAD_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return image


def image_picker() -> tuple[Image.Image, str]:
    """A bundled sample or an uploaded image (decoded safely; bad files get an inline message)."""
    side = st.sidebar
    source = side.radio("Image", ["Sample", "Upload"], horizontal=True, key="image_source")
    if source == "Upload":
        up = side.file_uploader("Upload an image", type=UPLOAD_TYPES, key="upload",
                                help="PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF, up to 40 megapixels.")
        if up is None:
            st.info("Upload an image in the sidebar, or switch to a sample.")
            st.stop()
        with inline_errors():
            return _decode_upload(up.getvalue()), up.name
    name = side.selectbox("Sample image", sample_names(), key="sample")
    return _samples()[name], name


@dataclass(frozen=True)
class Display:
    opacity: float
    colorscale: str
    interpolation: str


def display_options() -> Display:
    with st.sidebar.expander("Display", expanded=False):
        opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.6, 0.05, key="opacity")
        colorscale = st.selectbox("Colour map", render.COLORSCALES, key="colorscale")
        interpolation = st.radio("Upsampling", ["bilinear", "nearest"], horizontal=True, key="interp",
                                 help="nearest shows each patch as one block: what the model actually scored.")
    return Display(opacity, colorscale, interpolation)


def fit_picker(dynamic: bool) -> str:
    options = list(FITS) if dynamic else ["resize", "crop"]
    return st.sidebar.radio("Fit the image to the model", options, format_func=FITS.get, key="fit",
                            help="The overlay is drawn on exactly the pixels the model saw.")


def image_set_picker() -> tuple[list[Image.Image], str]:
    """All bundled samples, or several uploaded images; returns the images and a content key for caching."""
    from vizcore.ui.cache import image_key

    side = st.sidebar
    source = side.radio("Images", ["All samples", "Upload"], horizontal=True, key="set_source")
    if source == "Upload":
        ups = side.file_uploader("Upload images", type=UPLOAD_TYPES, accept_multiple_files=True, key="set_upload")
        if not ups:
            st.info("Upload one or more images in the sidebar, or use all samples.")
            st.stop()
        with inline_errors():
            images = [_decode_upload(u.getvalue()) for u in ups]
    else:
        images = list(_samples().values())
    return images, "|".join(image_key(im) for im in images)
