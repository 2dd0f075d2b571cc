"""The shared controls, one helper each: the model picker (with the Download weights panel of
`vizcore.ui.downloads` and the out-of-domain notice), the image picker, the image-set picker, display options and
the fit picker. Pages and views call these; none draws its own version.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image

from vizcore.errors import VizcoreError
from vizcore.export import render
from vizcore.models import needs_download, out_of_domain_note
from vizcore.ui import cache, notes
from vizcore.ui.downloads import download_panel, request_download, size_text
from vizcore.ui.errors import inline_errors

OTHER_TIMM = "other-timm"
OTHER_HF = "other-hf"
LOCAL_FILE = "local-file"
NOTICE = "_vz_domain_notice"  # this run's model choice for the out-of-domain notice, and whether it was drawn
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
    key: str = "model"  # the picker's widget key (the notice's "use a real model" button switches it)


def model_picker(*kinds: str, label: str = "Model", key: str = "model", default: str | None = None,
                 where=None, extra: dict[str, str] | None = None, free_text: bool = True,
                 stop: bool = True) -> ModelChoice | None:
    """Pick a listed model of `kinds` (first kind first), one of `extra` (spec -> title, e.g. pixels), and with
    `free_text` any timm name or local checkpoint; random weights are an explicit toggle.

    A pretrained `timm:` / `hf:` model whose weights are not here gets the Download weights panel in the page
    (`download_panel`, in the current container): nothing is fetched until that button is pressed. Widget keys:
    `key`, `{key}_timm`, `{key}_hf`, `{key}_ckpt`, `{key}_arch`, `{key}_random`. Returns None (after a message)
    when nothing usable is chosen and `stop` is False; otherwise stops the page.
    """
    kinds = kinds or ("vit",)
    where = where or st.sidebar
    infos = sorted((i for i in cache.model_infos() if i.kind in kinds), key=lambda i: kinds.index(i.kind))
    labels = dict(extra or {})
    labels |= {i.spec: i.title + ("" if i.offline else " · weights not on this machine") for i in infos}
    if free_text:
        labels |= {OTHER_TIMM: "Other timm model…", OTHER_HF: "Hugging Face repo…",
                   LOCAL_FILE: "Local checkpoint file or folder…"}
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
    elif spec == OTHER_HF:
        repo = where.text_input("Hugging Face repo id (ViT, DeiT, DINOv2, ViTMAE)", placeholder="facebook/dinov2-small",
                                key=f"{key}_hf")
        spec = title = f"hf:{repo.strip()}" if repo.strip() else ""
    elif spec == LOCAL_FILE:
        path = where.text_input("Checkpoint file or folder on this server", placeholder="/models/vit.safetensors",
                                key=f"{key}_ckpt", help="A .safetensors / .pth file, or a transformers folder "
                                "(config.json + model.safetensors; a Trainer output folder works too).")
        arch = where.text_input("timm architecture (not needed for MAE checkpoints or with a model card beside it)",
                                key=f"{key}_arch")
        spec = title = (f"file:{path.strip()}" + (f"?arch={arch.strip()}" if arch.strip() else "")
                        if path.strip() else "")
    st.session_state[f"_vz_options_{key}"] = specs
    if spec in (extra or {}):
        return ModelChoice(spec, True, title, key)
    random = where.toggle("Random weights (untrained)", value=False, key=f"{key}_random", help=RANDOM_HELP)
    if not spec:
        if stop:
            st.info("Enter a model in the sidebar to continue.")
            st.stop()
        where.info("Type a model spec to continue.")
        return None
    choice = ModelChoice(spec, not random, title + (" (random weights)" if random else ""), key)
    if choice.pretrained and needs_download(spec):
        download_panel(spec, key=key, title=labels.get(choice.spec, spec).split(" · ")[0])
    if stop:
        st.session_state[NOTICE] = {"choice": choice, "drawn": False}
    return choice


# ---- honest labels for narrow models ------------------------------------------------------------------------------

def domain_notice(choice: ModelChoice | None, image_domain: str | None, *, what: str = "this image") -> None:
    """Beside an answer: when `choice` is a narrow bundled model and the image is not from its domain, say what it
    was trained on, that its answer is not meaningful, and offer one click to a real pretrained model (switching the
    picker, and downloading it when its weights are not here). Drawn at most once per run.

    image_domain: the data set the image comes from ("scenes", "photos", ...; `sample_domain`), None for uploads.
    """
    state = st.session_state.get(NOTICE) or {}
    if choice is None or not choice.pretrained or (state.get("choice") == choice and state.get("drawn")):
        return
    try:
        handle = cache.model(choice.spec, choice.pretrained)
    except Exception:  # the page shows the loading error itself
        return
    note = out_of_domain_note(handle, image_domain, what=what)
    if note is None:
        return
    if state.get("choice") == choice:
        state["drawn"] = True
    with st.container(border=True, key=f"{choice.key}_domain_notice"):
        st.warning(note.text, icon=":material/explore:")
        real = note.suggestion
        if real is not None and real.spec in st.session_state.get(f"_vz_options_{choice.key}", ()):
            size = "" if real.offline else f" and download its weights ({size_text(real.spec)})"
            st.button(f"Use {real.title} instead{size}", key=f"{choice.key}_use_real", type="primary",
                      on_click=_use_real, args=(choice.key, real.spec, not real.offline))


def _use_real(key: str, spec: str, download: bool) -> None:
    st.session_state[key] = spec
    st.session_state[f"{key}_random"] = False
    if download:
        request_download(key, spec)


def sample_domain(picked: PickedImage | None) -> str | None:
    """The data set a picked image comes from: "scenes" or "photos" for the bundled samples, None for uploads."""
    if picked is None or picked.name not in cache.samples():
        return None
    return "scenes" if picked.key in _scene_keys() else "photos"


def _scene_keys() -> frozenset[str]:
    return frozenset(key for name, (_, key) in cache.samples().items() if name.startswith("scene "))


def _auto_notice(domain: str | None, what: str) -> None:
    """The notice for the model this run's (stopping) model picker chose, when a page picks an image after it."""
    state = st.session_state.get(NOTICE)
    if state and not state.get("drawn"):
        domain_notice(state["choice"], domain, what=what)


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
    with inline_errors():
        return _decoded(upload)


def _decoded(upload) -> PickedImage:
    """`uploaded` without the inline message: raises the VizcoreError that says why the file is no image."""
    memo = st.session_state.setdefault("_upload_keys", {})
    if upload.file_id not in memo:
        memo[upload.file_id] = cache.bytes_key(upload.getvalue())
    key = memo[upload.file_id]
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
        picked = uploaded(up)
        _auto_notice(None, f"your upload ({up.name})")
        return picked
    name = side.selectbox("Sample image", sample_names(), key="sample")
    image, key = cache.samples()[name]
    picked = PickedImage(image, key, name)
    _auto_notice(sample_domain(picked), f"the sample '{name}'")
    return picked


def image_set_picker() -> tuple[list[Image.Image], str]:
    """All bundled samples, or several uploaded images; returns the images and one content key for the set."""
    side = st.sidebar
    source = side.radio("Images", ["All samples", "Upload"], horizontal=True, key="set_source")
    if source == "Upload":
        ups = side.file_uploader("Upload images", type=UPLOAD_TYPES, accept_multiple_files=True, key="set_upload")
        if not ups:
            st.info("Upload one or more images in the sidebar, or use all samples.")
            st.stop()
        picked, rejected = [], []
        for u in ups:  # keep the good files; name every bad one with its reason
            try:
                picked.append(_decoded(u))
            except VizcoreError as e:
                rejected.append((u.name, str(e)))
        notes.rejected_uploads(rejected, kept=len(picked))
    else:
        picked = [PickedImage(im, key, name) for name, (im, key) in cache.samples().items()]
    if source == "Upload":  # the sample set holds scenes as well as photos: statistics over it stay meaningful
        _auto_notice(None, "your uploads")
    return [p.image for p in picked], "|".join(p.key for p in picked)


@dataclass(frozen=True)
class Display:
    """How attention overlays are drawn."""

    opacity: float
    colorscale: str
    interpolation: str
    base: str = "grey"  # the image under the maps: "grey" (render.grey) or "colour"


BASES = ("grey", "colour")  # the image under the attention maps


def display_options() -> Display:
    with st.sidebar.expander("Display", expanded=False):
        opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.6, 0.05, key="opacity")
        colorscale = st.selectbox("Colour map", render.COLORSCALES, key="colorscale")
        interpolation = st.radio("Upsampling", ["bilinear", "nearest"], horizontal=True, key="interp",
                                 help="nearest shows each patch as one block: what the model actually scored.")
        base = st.radio("Image under the maps", BASES, horizontal=True, key="base",
                        help="Grey: every pixel keeps the hue of its colour on the bar; the image only makes it "
                             "lighter or darker. Colour: the photo's hues mix with the map's (yellow over red "
                             "draws orange, a colour the bar lacks), but objects that differ from their "
                             "background only in colour stay visible.")
    return Display(opacity, colorscale, interpolation, base)


def fit_picker(dynamic: bool) -> str:
    options = list(FITS) if dynamic else ["resize", "crop"]
    return st.sidebar.radio("Fit the image to the model", options, format_func=FITS.get, key="fit",
                            help="The overlay is drawn on exactly the pixels the model saw.")
