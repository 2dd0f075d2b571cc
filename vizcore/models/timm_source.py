"""`timm:` models: any timm Vision Transformer, with weights from the local Hugging Face cache only.

Loading never touches the network (HF_HUB_OFFLINE or not): weights come from the cache that `vizcore download` and
the app's Download weights button fill (`vizcore.models.download`). With no cached weights the loader fails at once
with a message that says how to get them (or to ask for random weights explicitly, which every view labels).
"""

from __future__ import annotations

import difflib

import torch.nn as nn

from vizcore.errors import CheckpointError, ModelError, WeightsUnavailableError
from vizcore.models.checkpoints import read_state_dict
from vizcore.models.curated import lookup, missing_weights_message, with_curated
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT, is_vit

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


def cached_weights(name: str) -> str | None:
    """Path of `name`'s pretrained weights in the local Hugging Face cache, or None (no network is used)."""
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:
        return None
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
    if not hub_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    files = ((cfg.hf_hub_filename,) if getattr(cfg, "hf_hub_filename", None) else ()) + WEIGHT_FILES
    for filename in files:
        path = try_to_load_from_cache(hub_id, filename)
        if isinstance(path, str):
            return path
    return None


def _check_name(name: str) -> None:
    import timm

    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name, timm.list_models(pretrained=True), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else " See `timm.list_models('*vit*')` for names."
    raise ModelError(f"timm has no model named '{name}'.{hint}")


def _create(name: str, **kwargs) -> nn.Module:
    import timm

    try:
        return timm.create_model(name, dynamic_img_size=True, **kwargs)
    except TypeError:  # families without dynamic sizes
        return timm.create_model(name, **kwargs)


def _create_pretrained(name: str, path: str, **kwargs) -> nn.Module:
    """Build `name` with the weights in `path`, through timm's own checkpoint filter (pos-embed resampling etc.)."""
    sd = read_state_dict(path)
    try:
        return _create(name, pretrained=True, pretrained_cfg_overlay={"state_dict": sd}, **kwargs)
    except (RuntimeError, KeyError, ValueError) as e:
        detail = " ".join(str(e).split())[:400]
        raise CheckpointError(
            f"The weights in {path} do not fit timm:{name} ({detail} ...). Pick the architecture they belong to."
        ) from None


def load_timm(name: str, *, pretrained: bool = True, weights: str | None = None,
              num_classes: int | None = None) -> TimmViT:
    """Load timm model `name`; pretrained weights from `weights` (a local file) or the local HF cache.

    `num_classes` overrides the head (0: none, e.g. for a self-supervised backbone's checkpoint).
    """
    _check_name(name)
    spec = f"timm:{name}"
    entry = lookup(spec)
    kwargs = dict(entry.build) if entry else {}
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if pretrained:
        path = weights or cached_weights(name)
        if path is None:
            raise WeightsUnavailableError(missing_weights_message(spec))
        module = _create_pretrained(name, path, **kwargs)
    else:
        module = _create(name, pretrained=False, **kwargs)
    if not is_vit(module):
        raise ModelError(f"{spec} is not a plain Vision Transformer (no `blocks[i].attn`); pick a ViT-family name.")
    return TimmViT(module, _info(spec, name, pretrained), _preprocess(module), _class_names(module))


def _info(spec: str, name: str, pretrained: bool) -> ModelInfo:
    title = name + ("" if pretrained else " (random weights)")
    return with_curated(ModelInfo(spec, title, "vit", pretrained=pretrained, offline=True))


def _preprocess(module: nn.Module) -> Preprocess:
    cfg = getattr(module, "pretrained_cfg", {}) or {}
    _, h, w = cfg.get("input_size", (3, 224, 224))
    return Preprocess(
        size=(int(h), int(w)),
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        dynamic_size=bool(getattr(module, "dynamic_img_size", False)),
    )


def _class_names(module: nn.Module) -> tuple[str, ...] | None:
    n = int(getattr(module, "num_classes", 0) or 0)
    if n != 1000:
        return None
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i) for i in range(n))
