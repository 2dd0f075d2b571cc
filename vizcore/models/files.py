"""`file:` models: a local checkpoint plus its architecture.

The architecture comes from a vizcore model card beside the file (`model.json` next to `model.safetensors`),
from an `arch=` timm name (``file:/ckpt/dino.pth?arch=vit_small_patch16_224``), or, for masked autoencoders, from
the weights themselves: official MAE `.pth` files and Hugging Face ViTMAE folders (`config.json` +
`model.safetensors`) need neither (``file:/ckpt/mae_visualize_vit_large.pth``, optional ``?heads=16``).
"""

from __future__ import annotations

from pathlib import Path

from vizcore.errors import CheckpointError, ModelError
from vizcore.models.bundled import handle_from_card, read_card
from vizcore.models.checkpoints import load_into, read_state_dict
from vizcore.models.mae.checkpoints import NotMaeError
from vizcore.models.mae.handle import from_checkpoint
from vizcore.models.timm_source import load_timm
from vizcore.models.vit import TimmViT


def parse_file_spec(rest: str) -> tuple[Path, dict[str, str]]:
    """"/path/x.pth?arch=name" -> (Path, {"arch": "name"})."""
    path, _, query = rest.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
    return Path(path).expanduser(), params


def load_file(rest: str, *, pretrained: bool = True) -> TimmViT:
    path, params = parse_file_spec(rest)
    spec = f"file:{rest}"
    if path.is_dir() and (path / "config.json").is_file():
        return _mae(path, spec, params)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint file at {path}. Check the path (it must be a local file).")
    card_path = path.with_suffix(".json")
    if "arch" in params:
        handle = load_timm(params["arch"], pretrained=False)
        load_into(handle.module, read_state_dict(path), spec)
        handle.info = _relabel(handle, spec, path)
        return handle
    if card_path.is_file():
        return handle_from_card(read_card(card_path), path, spec)
    try:
        return _mae(path, spec, params)
    except NotMaeError:
        pass
    raise ModelError(
        f"vizcore cannot tell which architecture {path.name} is. Put its model card beside it "
        f"({card_path.name}) or name a timm architecture: file:{path}?arch=vit_small_patch16_224."
    )


def _mae(path: Path, spec: str, params: dict[str, str]):
    """An MAE read from its own weights (raises NotMaeError when the keys are not an MAE's)."""
    heads = params.get("heads")
    if heads is not None and not heads.isdigit():
        raise ModelError(f"heads={heads} in {spec} is not a whole number.")
    return from_checkpoint(path, spec, num_heads=int(heads) if heads else None)


def _relabel(handle: TimmViT, spec: str, path: Path):
    from dataclasses import replace

    return replace(handle.info, spec=spec, title=f"{path.name} ({handle.module.__class__.__name__})",
                   pretrained=True)
