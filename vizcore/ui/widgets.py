"""The shared controls, one helper each: the model picker, the image picker, the image-set picker, display options
and the fit picker. Pages and views call these; none draws its own version.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image

from vizcore.export import render
from vizcore.ui import cache
from vizcore.ui.errors import inline_errors

OTHER_TIMM = "other-timm"
LOCAL_FILE = "local-file"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff"]
FITS = {"resize": "Resize to the model's size", "crop": "Centre crop", "keep_aspect": "Keep aspect ratio"}
RANDOM_HELP = ("Explore the architecture without pretrained weights. Results are then those of an untrained "
               "network, and every view says so.")


@dataclass(frozen=True)
class ModelChoice:
    """What the model picker chose: a spec `load_model` takes, whether weights are trained, a title for captions."""

    spec: str
    pretrained: bool
    title: str


def model_picker(*kinds: str, label: str = "Model", key: str = "model", default: str | None = None,
                 where=None, extra: dict[str, str] | None = None, free_text: bool = True,
                 stop: bool = True) -> ModelChoice | None:
    """Pick a listed model of `kinds` (first kind first), one of `extra` (spec -> title, e.g. pixels), and with
    `free_text` any timm name or local checkpoint; random weights are an explicit toggle.

    Widget keys: `key`, `{key}_timm`, `{key}_ckpt`, `{key}_arch`, `{key}_random`. Returns None (after a message)
    when nothing usable is chosen and `stop` is False; otherwise stops the page.
    """
    kinds = kinds or ("vit",)
    where = where or st.sidebar
    infos = sorted((i for i in cache.model_infos() if i.kind in kinds), key=lambda i: kinds.index(i.kind))
    labels = dict(extra or {})
    labels |= {i.spec: i.title + ("" if i.offline else " · weights not on this machine") for i in infos}
    if free_text:
        labels |= {OTHER_TIMM: "Other timm model…", LOCAL_FILE: "Local checkpoint file…"}
    if not labels:
        where.error(f"No {' / '.join(kinds)} models were found in assets/models. Re-create them with "
                    f"`vizcore train {kinds[0]} --bundled`.")
        st.stop()
    specs = list(labels)
    spec = where.selectbox(label, specs, index=specs.index(default) if default in specs else 0,
                           format_func=labels.get, key=key)
    title = labels[spec]
    if spec == OTHER_TIMM:
        name = where.text_input("timm model name", placeholder="vit_small_patch16_224.dino", key=f"{key}_timm")
        spec = title = f"timm:{name.strip()}" if name.strip() else ""
    elif spec == LOCAL_FILE:
        path = where.text_input("Checkpoint path on this server", placeholder="/models/vit.safetensors",
                                key=f"{key}_ckpt")
        arch = where.text_input("timm architecture (not needed for MAE checkpoints or with a model card beside it)",
                                key=f"{key}_arch")
        spec = title = (f"file:{path.strip()}" + (f"?arch={arch.strip()}" if arch.strip() else "")
                        if path.strip() else "")
    if spec in (extra or {}):
        return ModelChoice(spec, True, title)
    random = where.toggle("Random weights (untrained)", value=False, key=f"{key}_random", help=RANDOM_HELP)
    if not spec:
        if stop:
            st.info("Enter a model in the sidebar to continue.")
            st.stop()
        where.info("Type a model spec to continue.")
        return None
    return ModelChoice(spec, not random, title + (" (random weights)" if random else ""))


@dataclass(frozen=True, eq=False)
class PickedImage:
    """An image from the image picker with its content key (the cache key) and a name for captions."""

    image: Image.Image
    key: str
    name: str


def sample_names() -> list[str]:
    return list(cache.samples())


def uploaded(upload) -> PickedImage:
    """A `st.file_uploader` file decoded safely; its bytes are hashed once per upload (remembered by file id)."""
    memo = st.session_state.setdefault("_upload_keys", {})
    if upload.file_id not in memo:
        memo[upload.file_id] = cache.bytes_key(upload.getvalue())
    key = memo[upload.file_id]
    with inline_errors():
        return PickedImage(cache.decoded_upload(key, upload.getvalue()), key, upload.name)


def image_picker() -> PickedImage:
    """A bundled sample or an uploaded image (decoded safely; bad files get an inline message)."""
    side = st.sidebar
    source = side.radio("Image", ["Sample", "Upload"], horizontal=True, key="image_source")
    if source == "Upload":
        up = side.file_uploader("Upload an image", type=UPLOAD_TYPES, key="upload",
                                help="PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF, up to 40 megapixels.")
        if up is None:
            st.info("Upload an image in the sidebar, or switch to a sample.")
            st.stop()
        return uploaded(up)
    name = side.selectbox("Sample image", sample_names(), key="sample")
    image, key = cache.samples()[name]
    return PickedImage(image, key, name)


def image_set_picker() -> tuple[list[Image.Image], str]:
    """All bundled samples, or several uploaded images; returns the images and one content key for the set."""
    side = st.sidebar
    source = side.radio("Images", ["All samples", "Upload"], horizontal=True, key="set_source")
    if source == "Upload":
        ups = side.file_uploader("Upload images", type=UPLOAD_TYPES, accept_multiple_files=True, key="set_upload")
        if not ups:
            st.info("Upload one or more images in the sidebar, or use all samples.")
            st.stop()
        picked = [uploaded(u) for u in ups]
    else:
        picked = [PickedImage(im, key, name) for name, (im, key) in cache.samples().items()]
    return [p.image for p in picked], "|".join(p.key for p in picked)


@dataclass(frozen=True)
class Display:
    """How attention overlays are drawn."""

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
