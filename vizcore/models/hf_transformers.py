"""Hugging Face `transformers` ViT-family folders -> timm Vision Transformers, weight for weight.

Reads `config.json` and the state dict (`model.safetensors`; `pytorch_model.bin` only through
``torch.load(weights_only=True)``) without importing `transformers`. Families: ViT (Dosovitskiy et al. 2021,
arXiv:2010.11929), DeiT with its distillation token (Touvron et al. 2021, arXiv:2012.12877), DINOv2 with layer
scale (Oquab et al. 2023, arXiv:2304.07193) and registers (Darcet et al. 2024, arXiv:2309.16588), ViTMAE's encoder
(He et al. 2022, arXiv:2111.06377). Logits, last_hidden_state (= timm `forward_features`) and every layer's
attention equal `transformers`' eager forward at `image_size` (tests/test_hf_parity.py), with two choices:
- ViTMAE shuffles patches by random noise and drops `config.mask_ratio` of them even in eval. The encoder here never
  masks: it equals `ViTMAEModel` with `config.mask_ratio = 0.0` and ascending `noise` (identity shuffle); with
  ratio 0 and random noise, transformers returns the same tokens in a per-image random order.
- When the preprocessor's size differs from `config.image_size` (DINOv2: 518 vs a 224 crop), the position table is
  resampled once, here, exactly as `transformers` does on every forward at that size.
Weights a plain forward never reads are skipped and listed in `HfVit.ignored`: the ViTModel/DeiTModel pooler,
`embeddings.mask_token`, the ViTMAEForPreTraining decoder. Any other weight not placed is an error, never dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file

from vizcore.errors import CheckpointError, ModelError

if TYPE_CHECKING:
    from timm.models.vision_transformer import VisionTransformer

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")  # in order of preference
# model_type -> (backbone prefix inside *For* checkpoints, does transformers resize the position table with antialias)
FAMILIES = {
    "vit": ("vit.", False),
    "deit": ("deit.", False),
    "dinov2": ("dinov2.", False),
    "dinov2_with_registers": ("dinov2_with_registers.", True),
    "vit_mae": ("vit.", False),
}
# config.json values that transformers assumes when a field is absent (DINOv2 overrides two of them)
DEFAULTS = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "num_channels": 3,
            "image_size": 224, "patch_size": 16, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}
DINOV2_DEFAULTS = {"patch_size": 14, "layer_norm_eps": 1e-6}
# timm block suffix -> transformers suffixes: checkpoint layout first, then transformers>=5 in-memory names
LAYER_KEYS = {
    "norm1": ("layernorm_before", "norm1"),
    "norm2": ("layernorm_after", "norm2"),
    "attn.proj": ("attention.output.dense", "attention.o_proj"),
    "mlp.fc1": ("intermediate.dense", "mlp.fc1"),
    "mlp.fc2": ("output.dense", "mlp.fc2"),
}
QKV_KEYS = (("attention.attention.query", "attention.q_proj"), ("attention.attention.key", "attention.k_proj"),
            ("attention.attention.value", "attention.v_proj"))
IGNORABLE = {
    "pooler.": "pooler (dense + tanh on CLS; features are last_hidden_state)",
    "embeddings.mask_token": "mask_token (read only when transformers gets bool_masked_pos)",
}
MAE_DECODER = {"decoder.": "MAE decoder (this is the encoder; the MAE page reads ViTMAEForPreTraining itself)"}


@dataclass(frozen=True)
class HfVit:
    """A converted checkpoint and what a vizcore handle needs to preprocess for it."""

    module: nn.Module  # timm VisionTransformer (VisionTransformerDistilled for DeiT), eval(), weights loaded exactly
    model_type: str  # config["model_type"]: "vit", "deit", "dinov2", "dinov2_with_registers" or "vit_mae"
    architecture: str  # config["architectures"][0], e.g. "ViTForImageClassification" (model_type if none)
    class_names: tuple[str, ...] | None  # id2label ordered by index; None without a classifier head
    image_size: tuple[int, int]  # (H, W) the module runs at: the preprocessor's crop / size, else config.image_size
    mean: tuple[float, ...]  # per-channel normalisation: preprocessor_config.json, else ImageNet's
    std: tuple[float, ...]
    folder: Path  # where the weights came from (a Trainer run's newest checkpoint-N/, say)
    ignored: tuple[str, ...] = ()  # checkpoint parts deliberately not converted, each with its reason


@cache
def _timm_classes() -> tuple[type, type, type]:
    """timm's VisionTransformer, VisionTransformerDistilled and `DeiTClassTokenHead` (DeiTForImageClassification:
    distillation token in the sequence, classifier on the CLS token only).

    Imported on the first conversion, not with this module: the MAE checkpoint readers import it on every page
    that draws figures, and timm takes seconds to import.
    """
    from timm.models.deit import VisionTransformerDistilled
    from timm.models.vision_transformer import VisionTransformer

    class DeiTClassTokenHead(VisionTransformerDistilled):
        def __init__(self, **kwargs) -> None:
            super().__init__(**kwargs)
            self.head_dist = nn.Identity()

        def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
            x = self.head_drop(x[:, 0])  # (B, D) the CLS token
            return x if pre_logits else self.head(x)

    return VisionTransformer, VisionTransformerDistilled, DeiTClassTokenHead


def is_transformers_folder(path: Path) -> bool:
    """True for a folder (or Trainer output) with a `transformers` config.json and weights; never raises."""
    try:
        config = _read_json(resolve_trainer_folder(Path(path)) / "config.json")
    except (ModelError, OSError):
        return False
    return "model_type" in config


def folder_config(path: Path) -> dict:
    """The config.json of a transformers folder (of its newest checkpoint-N/ for a Trainer output folder)."""
    return _read_json(resolve_trainer_folder(Path(path)) / "config.json")


def resolve_trainer_folder(path: Path) -> Path:
    """The folder to load: `path` itself when it holds weights, else its highest `checkpoint-N/` sub-folder.

    Only weight files are ever opened: a Trainer's optimizer.pt, scheduler.pt, rng_state*.pth, trainer_state.json
    and training_args.bin are ignored, never unpickled.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path} is not a folder. Give the folder that holds config.json and model.safetensors.")
    if _weights_file(path) is not None:
        return path
    steps = [(int(m.group(1)), sub) for sub in path.iterdir()
             if (m := re.fullmatch(r"checkpoint-(\d+)", sub.name)) and sub.is_dir() and _weights_file(sub)]
    if not steps:
        raise CheckpointError(f"{path} holds no model.safetensors or pytorch_model.bin, at top level or in a "
                              "checkpoint-N/ sub-folder. Save the model with model.save_pretrained(folder).")
    return max(steps)[1]


def load_transformers_folder(path: Path) -> HfVit:
    """Convert a `transformers` ViT-family folder (or Trainer output folder) into a timm module, exactly."""
    folder = resolve_trainer_folder(Path(path))
    config = _read_json(folder / "config.json")
    model_type = str(config.get("model_type", ""))
    architecture = (config.get("architectures") or [model_type])[0]
    _check_supported(config, model_type, architecture)
    cfg = {**DEFAULTS, **(DINOV2_DEFAULTS if model_type.startswith("dinov2") else {}), **config}
    state = read_weights(folder)
    prefix = FAMILIES[model_type][0]
    prefix = prefix if any(k.startswith(prefix) for k in state) else ""
    if model_type.startswith("dinov2") and "classifier.weight" in state:
        raise ModelError(f"{architecture}'s classifier reads concat(CLS, mean of patch tokens), which a timm "
                         "VisionTransformer head cannot represent. Save the backbone alone and open that: "
                         "model.dinov2.save_pretrained(folder) (model.dinov2_with_registers for registers).")
    ignorable = {**IGNORABLE, **(MAE_DECODER if model_type == "vit_mae" else {})}
    native = _hw(cfg["image_size"])
    image_size, mean, std = _preprocessing([folder, Path(path)], native)
    try:  # a config.json that does not describe these weights fails in torch or timm: say so in one sentence
        timm_state, ignored = _convert(state, prefix, int(cfg["num_hidden_layers"]), ignorable)
        if image_size != native:  # the same resampling transformers applies on every forward at this size
            timm_state["pos_embed"] = _resample(timm_state, _hw(cfg["patch_size"]), native, image_size,
                                                antialias=FAMILIES[model_type][1])
        module = _build(cfg, timm_state, image_size)
        module.load_state_dict(timm_state, strict=True)
    except (RuntimeError, ValueError, TypeError, KeyError, AssertionError) as e:
        detail = next((ln.strip() for ln in reversed(str(e).splitlines()) if ln.strip()), type(e).__name__)
        raise CheckpointError(f"{folder.name}: the weights do not fit config.json ({detail[:200]}). "
                              "Make sure config.json and the weights come from the same save.") from None
    return HfVit(module.eval(), model_type, architecture, _class_names(config, timm_state), image_size, mean,
                 std, folder, ignored)


def _check_supported(config: dict, model_type: str, architecture: str) -> None:
    if model_type not in FAMILIES:
        raise ModelError(f"config.json has model_type '{model_type}'; vizcore converts only "
                         f"{', '.join(FAMILIES)}. For another architecture use a timm model (timm:<name>).")
    if config.get("use_swiglu_ffn"):
        raise ModelError(f"{architecture} uses a SwiGLU MLP (use_swiglu_ffn, the giant DINOv2), which vizcore "
                         "does not convert. Use timm:vit_giant_patch14_dinov2.lvd142m instead.")
    if config.get("hidden_act", "gelu") != "gelu":
        raise ModelError(f"{architecture} uses hidden_act '{config['hidden_act']}'; vizcore converts only exact "
                         "'gelu' MLPs. Use a checkpoint trained with gelu, or the model in transformers directly.")
    if any(config.get(k) for k in ("qk_norm", "use_qk_norm", "qk_layernorm")):
        raise ModelError(f"{architecture} normalises queries and keys (qk-norm), which vizcore does not convert. "
                         "Use the matching timm model (timm:<name>, qk_norm=True) instead.")


def _convert(state: dict, prefix: str, depth: int, ignorable: dict[str, str]) -> tuple[dict, tuple[str, ...]]:
    """transformers names -> timm names; every tensor is placed, knowingly ignored, or an error."""
    src = {k: v.float() for k, v in state.items()}  # fp16/bf16 saves: do the few sums below as transformers does

    def take(*names: str, required: bool = False, at: str = prefix) -> torch.Tensor | None:
        for name in names:
            if at + name in src:
                return src.pop(at + name)
        if required:
            raise CheckpointError(f"The checkpoint has no '{at + names[0]}': it is not a complete "
                                  "transformers ViT-family save. Save it again with model.save_pretrained(folder).")
        return None

    out = {"cls_token": take("embeddings.cls_token", required=True),
           "pos_embed": take("embeddings.position_embeddings", required=True),
           "dist_token": take("embeddings.distillation_token"), "reg_token": take("embeddings.register_tokens")}
    for p in ("weight", "bias"):
        out[f"patch_embed.proj.{p}"] = take(f"embeddings.patch_embeddings.projection.{p}", required=p == "weight")
        out[f"norm.{p}"] = take(f"layernorm.{p}", required=True)
    for i in range(depth):
        layer = (f"encoder.layer.{i}.", f"layers.{i}.")
        for p in ("weight", "bias"):
            for timm_name, names in LAYER_KEYS.items():
                out[f"blocks.{i}.{timm_name}.{p}"] = take(*[lp + n + f".{p}" for n in names for lp in layer])
            qkv = [take(*[lp + n + f".{p}" for n in names for lp in layer]) for names in QKV_KEYS]
            if any(t is not None for t in qkv):
                if any(t is None for t in qkv):
                    raise CheckpointError(f"Layer {i} has {p}s for only some of query/key/value; save it again.")
                out[f"blocks.{i}.attn.qkv.{p}"] = torch.cat(qkv)  # (3D, D) or (3D,): q, k, v stacked
        for k in (1, 2):
            out[f"blocks.{i}.ls{k}.gamma"] = take(*[lp + f"layer_scale{k}.lambda1" for lp in layer])
    for timm_name, names in (("head", ("classifier", "cls_classifier")), ("head_dist", ("distillation_classifier",))):
        for p in ("weight", "bias"):  # heads sit outside the backbone prefix
            out[f"{timm_name}.{p}"] = take(*[f"{n}.{p}" for n in names], at="")
    out = {k: v for k, v in out.items() if v is not None}
    if "reg_token" in out:  # timm's registers carry no position: fold CLS's into the token (as timm's own filter)
        out["cls_token"] = out["cls_token"] + out["pos_embed"][:, :1]
        out["pos_embed"] = out["pos_embed"][:, 1:]  # (1, N, D) patches only
    ignored, unknown = set(), []
    for key in src:
        reason = next((r for pat, r in ignorable.items() if key.removeprefix(prefix).startswith(pat)), None)
        if reason:
            ignored.add(reason)
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointError(f"{len(unknown)} weights have no place in a timm VisionTransformer (e.g. "
                              f"{', '.join(unknown[:4])}): this variant is not supported, and vizcore refuses "
                              "rather than drop them. Open the plain backbone, or use the model in transformers.")
    return out, tuple(sorted(ignored))


def _build(cfg: dict, state: dict, image_size: tuple[int, int]) -> VisionTransformer:
    embed_dim, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    if embed_dim % heads or int(cfg.get("head_dim", embed_dim // heads)) * heads != embed_dim:
        raise ValueError("timm needs head_dim x num_attention_heads == hidden_size")
    mlp_hidden = state["blocks.0.mlp.fc1.weight"].shape[0] if "blocks.0.mlp.fc1.weight" in state else 4 * embed_dim
    kwargs = dict(
        img_size=image_size, patch_size=_hw(cfg["patch_size"]), in_chans=int(cfg["num_channels"]),
        num_classes=state["head.weight"].shape[0] if "head.weight" in state else 0, global_pool="token",
        embed_dim=embed_dim, depth=int(cfg["num_hidden_layers"]), num_heads=heads,
        mlp_ratio=(mlp_hidden + 0.5) / embed_dim,  # timm takes int(D * ratio): exact despite float rounding
        qkv_bias="blocks.0.attn.qkv.bias" in state,
        init_values=1.0 if "blocks.0.ls1.gamma" in state else None,  # any value: the checkpoint's gamma replaces it
        class_token=True, reg_tokens=state["reg_token"].shape[1] if "reg_token" in state else 0,
        no_embed_class="reg_token" in state, dynamic_img_size=True, weight_init="skip",
        norm_layer=partial(nn.LayerNorm, eps=float(cfg["layer_norm_eps"])), act_layer=nn.GELU,
    )
    vit, distilled, class_token_head = _timm_classes()
    if "dist_token" not in state:
        return vit(**kwargs)
    has_cls_only_head = "head.weight" in state and "head_dist.weight" not in state
    return (class_token_head if has_cls_only_head else distilled)(**kwargs)


def _resample(state: dict, patch: tuple[int, int], old: tuple[int, int], new: tuple[int, int], antialias: bool
              ) -> torch.Tensor:
    """Bicubic resize of the patch part of the (1, P + gh*gw, D) table, as transformers' interpolate_pos_encoding."""
    pos, (ph, pw) = state["pos_embed"], patch
    num_prefix = 0 if "reg_token" in state else 1 + ("dist_token" in state)  # prefix tokens the table covers
    grid = pos[:, num_prefix:].reshape(1, old[0] // ph, old[1] // pw, -1).permute(0, 3, 1, 2)  # (1, D, gh, gw)
    grid = F.interpolate(grid, size=(new[0] // ph, new[1] // pw), mode="bicubic", align_corners=False,
                         antialias=antialias)
    return torch.cat([pos[:, :num_prefix], grid.flatten(2).transpose(1, 2)], dim=1)  # (1, P + gh'*gw', D)


def _preprocessing(folders: list[Path], native: tuple[int, int]) -> tuple[tuple[int, int], tuple, tuple]:
    """(image size, mean, std) from the first preprocessor_config.json found, else the config's size and ImageNet."""
    found = next((f / "preprocessor_config.json" for f in folders if (f / "preprocessor_config.json").is_file()), None)
    if found is None:
        return native, IMAGENET_MEAN, IMAGENET_STD
    pp = _read_json(found)
    cropped = pp.get("do_center_crop", True) and pp.get("crop_size")
    size = _hw(pp["crop_size"] if cropped else pp.get("size")) or native
    if not pp.get("do_normalize", True):
        return size, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    mean, std = (pp.get(k, d) for k, d in (("image_mean", IMAGENET_MEAN), ("image_std", IMAGENET_STD)))
    return size, tuple(map(float, mean)), tuple(map(float, std))


def _hw(value) -> tuple[int, int] | None:
    """(H, W) from transformers' size forms: 224, [224, 224], {"height", "width"} or {"shortest_edge"}."""
    if isinstance(value, dict):
        value = (value["height"], value["width"]) if "height" in value else value.get("shortest_edge")
    if isinstance(value, int):
        return value, value
    return (int(value[0]), int(value[1])) if isinstance(value, list | tuple) and len(value) == 2 else None


def _class_names(config: dict, state: dict) -> tuple[str, ...] | None:
    if "head.weight" not in state:
        return None
    labels = {int(k): str(v) for k, v in (config.get("id2label") or {}).items()}
    return tuple(labels.get(i, f"LABEL_{i}") for i in range(state["head.weight"].shape[0]))


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path.parent} has no {path.name}. Save the model with "
                              "model.save_pretrained(folder), which writes it.") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path.name} in {path.parent} is not valid JSON ({e}). Save the model again.") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path.name} in {path.parent} is not a JSON object. Save the model again.")
    return data


def _weights_file(folder: Path) -> Path | None:
    return next((folder / n for n in WEIGHT_FILES if (folder / n).is_file()), None)


def read_weights(folder: Path) -> dict[str, torch.Tensor]:
    """model.safetensors, or pytorch_model.bin through torch.load(weights_only=True), which runs no code."""
    path = _weights_file(folder)
    if path is None:
        raise CheckpointError(f"{folder} has no model.safetensors or pytorch_model.bin. Save the model again.")
    try:
        if path.suffix == ".safetensors":
            obj = load_file(str(path), device="cpu")
        else:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # safetensors and torch raise many types for truncated or hostile files
        what = "holds Python objects that could run code" if "weights_only" in str(e) else "is truncated or corrupt"
        first = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise CheckpointError(f"{path.name} {what}, so vizcore could not read it ({first}). "
                              "Download or save it again, ideally as model.safetensors.") from None
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path.name} is not a state dict of tensors. Save it with model.save_pretrained().")
    return obj
