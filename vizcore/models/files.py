"""`file:` models: a local checkpoint plus its architecture.

The architecture comes from
- a `transformers` folder (``file:/runs/vit-finetuned``: config.json + model.safetensors, also a Trainer output
  folder with checkpoint-N/ sub-folders), converted exactly to timm (`hf_source`);
- a vizcore model card beside the file (`model.json` next to `model.safetensors`);
- an `arch=` timm name (``file:/ckpt/dino.pth?arch=vit_small_patch16_224``); a checkpoint without `head.weight`
  (a self-supervised backbone such as DINO's) is built without a head, and training wrappers ("module.",
  DINO's "teacher" / "backbone.") are unwrapped;
- or, for masked autoencoders, the weights themselves: official MAE `.pth` files (their saved `args` give
  norm_pix_loss) need neither (``file:/ckpt/mae_pretrain.pth``, optional ``?heads=16`` and ``?norm_pix_loss=1`` for
  files saved without args).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from vizcore.errors import CheckpointError, ModelError
from vizcore.models.bundled import handle_from_card, read_card
from vizcore.models.checkpoints import load_into, read_state_dict, strip_training_prefixes
from vizcore.models.hf_source import load_folder
from vizcore.models.hf_transformers import is_transformers_folder, resolve_trainer_folder
from vizcore.models.mae.checkpoints import NotMaeError
from vizcore.models.mae.handle import from_checkpoint
from vizcore.models.timm_source import load_timm
from vizcore.models.vit import TimmViT

PARAMS = ("arch", "heads", "norm_pix_loss")
FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def parse_file_spec(rest: str) -> tuple[Path, dict[str, str]]:
    """"/path/x.pth?arch=name" -> (Path, {"arch": "name"})."""
    path, _, query = rest.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return Path(path).expanduser(), params


def load_file(rest: str, *, pretrained: bool = True) -> TimmViT:
    path, params = parse_file_spec(rest)
    spec = f"file:{rest}"
    if unknown := sorted(set(params) - set(PARAMS)):
        raise ModelError(f"{spec}: unknown option {', '.join(unknown)}. file: specs take {', '.join(PARAMS)}.")
    heads, norm_pix = _heads(params, spec), _flag(params, "norm_pix_loss", spec)
    if path.is_dir():
        if not is_transformers_folder(path):
            resolve_trainer_folder(path)  # says what is missing when there are no weights at all
            raise CheckpointError(f"{path} has weights but no transformers config.json with a model_type. Give the "
                                  "folder model.save_pretrained(folder) wrote, or a checkpoint file.")
        return load_folder(path, spec, pretrained=pretrained, num_heads=heads, norm_pix_loss=norm_pix)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint file at {path}. Check the path (it must be a local file or folder).")
    card_path = path.with_suffix(".json")
    if "arch" in params:
        return _with_arch(path, params["arch"], spec, pretrained)
    if card_path.is_file():
        return handle_from_card(read_card(card_path), path if pretrained else None, spec, pretrained)
    try:
        return from_checkpoint(path, spec, num_heads=heads, norm_pix_loss=norm_pix, pretrained=pretrained)
    except NotMaeError:
        pass
    raise ModelError(
        f"vizcore cannot tell which architecture {path.name} is. Put its model card beside it "
        f"({card_path.name}) or name a timm architecture: file:{path}?arch=vit_small_patch16_224."
    )


def _with_arch(path: Path, arch: str, spec: str, pretrained: bool) -> TimmViT:
    """A checkpoint of timm architecture `arch`; its head (or none: a backbone) decides the number of classes."""
    sd = strip_training_prefixes(read_state_dict(path, allowed=(argparse.Namespace,)))
    classes = int(sd["head.weight"].shape[0]) if "head.weight" in sd else 0
    handle = load_timm(arch, pretrained=False, num_classes=classes)
    if pretrained:
        load_into(handle.module, sd, spec)
    kind = f"{classes}-class head" if classes else "backbone, no head"
    title = f"{path.name} ({arch}, {kind})" + ("" if pretrained else " (random weights)")
    handle.info = replace(handle.info, spec=spec, title=title, pretrained=pretrained,
                          description=f"timm {arch} with the weights of {path}.", licence="", size_bytes=0,
                          pages=(), trained_on="")
    return handle


def _heads(params: dict[str, str], spec: str) -> int | None:
    heads = params.get("heads")
    if heads is not None and not heads.isdigit():
        raise ModelError(f"heads={heads} in {spec} is not a whole number.")
    return int(heads) if heads else None


def _flag(params: dict[str, str], name: str, spec: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value.lower() not in FLAGS:
        raise ModelError(f"{name}={value} in {spec} is not a yes/no value; write {name}=1 or {name}=0.")
    return FLAGS[value.lower()]
