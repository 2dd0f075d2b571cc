"""The curated pretrained models: one line each on what it is good for, its size, licence and the pages it fits.

Every entry downloads with one command (`vizcore download <spec>`) or the app's Download weights button, into the
normal Hugging Face cache (`vizcore.models.download`); nothing here touches the network. Whether the weights are
here is read from that cache (`weights_present`).

Sizes are the bytes of the weight file a download fetches, recorded without network access: the parameter count
of the architecture (timm's, or transformers' `ViTMAEForPreTraining` for the full MAE) x 4 bytes of float32, which
is what those files hold; the `.safetensors` header adds a few kB ("approx." in every label). Licences are timm's
`pretrained_cfg["license"]` (tests/test_real_models.py checks them) except where the comment says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from vizcore.errors import ModelError
from vizcore.models.hub_files import Source, is_downloaded, source_for_spec, timm_hub_source
from vizcore.models.info import ModelInfo

ATTENTION, POSEMBED, ANATOMY, MAE_PAGE, PROJECTOR = (
    "Attention", "Position embeddings", "ViT anatomy", "MAE reconstruction", "Embedding projector")
VIT_PAGES = (ATTENTION, POSEMBED, ANATOMY, PROJECTOR)
IMAGENET = "ImageNet-1k photos"


@dataclass(frozen=True)
class Curated:
    """One curated model.

    Attributes:
        spec: what `load_model` and `vizcore download` take.
        kind: "vit" (a ViT handle) or "mae" (an MAE with its decoder: reconstructions too).
        purpose: what it is good for, in one or two sentences.
        size_bytes: approx. bytes of its weight file (parameters x 4, see the module docstring).
        build: extra timm `create_model` arguments, each with its reason in the entry's comment.
    """

    spec: str
    title: str
    kind: str
    purpose: str
    trained_on: str
    size_bytes: int
    licence: str
    pages: tuple[str, ...]
    build: tuple[tuple[str, object], ...] = ()

    def info(self, *, offline: bool, pretrained: bool = True) -> ModelInfo:
        title = self.title + ("" if pretrained else " (random weights)")
        return ModelInfo(self.spec, title, self.kind, self.purpose, pretrained=pretrained, offline=offline,
                         trained_on=self.trained_on, licence=self.licence, size_bytes=self.size_bytes,
                         pages=self.pages)


CURATED: tuple[Curated, ...] = (
    Curated("timm:vit_small_patch16_224.dino", "DINO ViT-S/16 (self-supervised)", "vit",
            "The classic attention maps: its last-layer CLS heads outline objects without ever seeing a label "
            "(Caron et al. 2021). Small and fast on a CPU: start here.",
            f"{IMAGENET} without labels (self-distillation)", 86_662_656, "apache-2.0", VIT_PAGES),
    Curated("timm:vit_base_patch16_224.dino", "DINO ViT-B/16 (self-supervised)", "vit",
            "The larger DINO: sharper object masks from 12 heads per layer; about 4x the size and time of ViT-S.",
            f"{IMAGENET} without labels (self-distillation)", 343_194_624, "apache-2.0", VIT_PAGES),
    Curated("timm:vit_small_patch14_reg4_dinov2.lvd142m", "DINOv2 ViT-S/14 with 4 registers", "vit",
            "Strong general-purpose features for the projector, and clean attention maps: 4 register tokens soak "
            "up the global information that otherwise makes high-norm artefact patches (Darcet et al. 2024). "
            "Runs at 518 px, so it is slower.",
            "LVD-142M (142 M curated web images, no labels)", 88_229_376, "apache-2.0", VIT_PAGES),
    Curated("timm:deit_small_distilled_patch16_224.fb_in1k", "DeiT-S distilled (CLS + distillation token)", "vit",
            "An ImageNet classifier with two summary tokens: compare where the CLS and the distillation token "
            "look, with real top-5 ImageNet predictions.",
            f"{IMAGENET} with labels, distilled from a CNN teacher", 89_745_728, "apache-2.0", VIT_PAGES),
    Curated("timm:vit_base_patch16_224.augreg2_in21k_ft_in1k", "ViT-B/16 (AugReg, ImageNet-1k classifier)", "vit",
            "The original ViT as an ImageNet classifier: real class names in the top-5 predictions and "
            "class-specific gradient rollout.",
            "ImageNet-21k, fine-tuned on ImageNet-1k (labelled)", 346_270_624, "apache-2.0", VIT_PAGES),
    # The head of this tag projects into CLIP's 512-d text space, not onto classes: built without it
    # (num_classes=0; timm drops head.* from the file), so no view shows "predictions" over embedding dimensions.
    # Licence: timm's cfg says apache-2.0; OpenAI's own CLIP release is MIT.
    Curated("timm:vit_base_patch16_clip_224.openai", "CLIP ViT-B/16 image tower (OpenAI)", "vit",
            "Image features aligned with language (Radford et al. 2021): strong embeddings for the projector, "
            "and the attention of a model trained on captions rather than labels. No class names.",
            "400 M image-text pairs from the web (OpenAI WIT)", 344_772_608, "apache-2.0", VIT_PAGES,
            build=(("num_classes", 0),)),
    Curated("timm:vit_base_patch16_224.mae", "MAE ViT-B/16 encoder (self-supervised)", "vit",
            "The MAE encoder alone: attention and embeddings of a model that learned by filling in hidden "
            "patches. No decoder, so no reconstructions: use the full MAE below for those.",
            f"{IMAGENET} without labels (masked autoencoding)", 343_194_624, "cc-by-nc-4.0", VIT_PAGES),
    # The full MAE: 111.9 M parameters of transformers' ViTMAEForPreTraining (base). Licence as on its Hugging Face
    # model card; the weights come from the MAE release, which is CC BY-NC 4.0.
    Curated("hf:facebook/vit-mae-base", "MAE ViT-B/16 with its decoder (Hugging Face)", "mae",
            "The full masked autoencoder for the MAE reconstruction page: the paper's ViT-B/16 with its 8-block "
            "decoder fills in the hidden patches of any photo. Its encoder works on the ViT pages too.",
            f"{IMAGENET} without labels (masked autoencoding)", 447_631_360,
            "apache-2.0 (model card; MAE release: cc-by-nc-4.0)", (MAE_PAGE, ATTENTION, POSEMBED, PROJECTOR)),
)
BY_SPEC = {c.spec: c for c in CURATED}
FIRST_CHOICE = {"vit": "timm:vit_small_patch16_224.dino", "mae": "hf:facebook/vit-mae-base"}


def lookup(spec: str) -> Curated | None:
    """The curated entry for `spec`, or None."""
    return BY_SPEC.get((spec or "").strip())


def hub_source(spec: str) -> Source:
    """Where `spec`'s weights live on the Hub. A curated `timm:` entry's are in `timm/<name>` (what timm's
    pretrained config says for every entry; tests/test_startup.py checks it), so listing the curated models
    imports no timm; any other spec asks `hub_files.source_for_spec`. Raises `ModelError` for specs no download
    serves."""
    scheme, _, name = (spec or "").strip().partition(":")
    if scheme == "timm" and lookup(spec) is not None:
        return timm_hub_source(f"timm/{name}")
    return source_for_spec(spec)


def weights_present(spec: str) -> bool:
    """Whether a `timm:` / `hf:` spec's weights are in the local Hugging Face cache (False for anything else)."""
    try:
        return is_downloaded(spec, source=hub_source(spec))
    except ModelError:
        return False


def needs_download(spec: str) -> bool:
    """True when `spec` is a downloadable spec (`timm:<name>` with Hub weights, `hf:<repo>`) whose weights are not
    here. Never uses the network; False for bundled / file specs and for names no download could serve."""
    try:
        hub_source(spec)
    except ModelError:
        return False
    return not weights_present(spec)


def list_curated() -> list[ModelInfo]:
    """Every curated model, each marked with whether its weights are on this machine right now."""
    return [c.info(offline=weights_present(c.spec)) for c in CURATED]


def available_backbones(kinds: tuple[str, ...] = ("vit", "mae")) -> list[ModelInfo]:
    """Curated pretrained models whose weights are here (for baselines: pretrained vs the same architecture with
    random weights, `vizcore.models.random_twin(spec)`)."""
    return [info for info in list_curated() if info.offline and info.kind in kinds]


def suggestion(kind: str) -> ModelInfo | None:
    """The curated model to offer in place of a narrow bundled model of `kind` (None when there is none)."""
    entry = BY_SPEC.get(FIRST_CHOICE.get(kind, ""))
    return entry.info(offline=weights_present(entry.spec)) if entry else None


@lru_cache(maxsize=128)
def estimated_bytes(spec: str) -> int | None:
    """Approx. download size of a `timm:` / `hf:` spec without network: the curated figure, or for another timm
    name its parameter count x 4 bytes (built on the meta device, no memory); None when unknown (an hf repo)."""
    entry = lookup(spec)
    if entry is not None:
        return entry.size_bytes
    scheme, _, name = (spec or "").partition(":")
    if scheme != "timm":
        return None
    import timm
    import torch

    try:
        with torch.device("meta"):
            module = timm.create_model(name, pretrained=False)
    except Exception:  # an unknown name or an architecture that cannot build on meta: the size stays unknown
        return None
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def with_curated(info: ModelInfo) -> ModelInfo:
    """`info` with the curated title, purpose, licence, size and pages when its spec is curated."""
    entry = lookup(info.spec)
    if entry is None:
        return info
    title = entry.title + ("" if info.pretrained else " (random weights)")
    return replace(info, title=title, description=entry.purpose, trained_on=entry.trained_on,
                   licence=entry.licence, size_bytes=entry.size_bytes, pages=entry.pages)


def missing_weights_message(spec: str) -> str:
    """What to do when `spec`'s pretrained weights are not here: the download (with its size) or random weights."""
    from huggingface_hub import constants

    size = estimated_bytes(spec) if (spec or "").startswith("timm:") or lookup(spec) else None
    offline = (" HF_HUB_OFFLINE is set in this environment: unset it to download." if constants.HF_HUB_OFFLINE
               else "")
    return (f"No pretrained weights for {spec} on this machine yet. Download them "
            f"({format_size(size) if size else 'size shown before it starts'}) with the Download weights button, "
            f"or `vizcore download {spec}` on the command line; or explore the architecture untrained with random "
            f"weights (the app's Random weights switch, `--random-weights` on the command line).{offline}")


def format_size(n: int | None, *, approx: bool = True) -> str:
    """"≈87 MB" (approximate: whole MB) or "86.7 MB" (exact: one decimal), GB from 1e9, kB below 1e6; "size
    unknown" for None."""
    if not n:
        return "size unknown"
    digits = 0 if approx else 1
    text = (f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.{digits}f} MB" if n >= 1e6
            else f"{n / 1e3:.0f} kB")
    return ("≈" if approx else "") + text
