"""Reading weight files without ever executing code from them.

`.safetensors` is read with safetensors; `.pth/.pt/.bin` only with ``torch.load(weights_only=True)``, which
refuses any pickle that would import or call arbitrary objects.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from vizcore.errors import CheckpointError

PICKLE_SUFFIXES = {".pth", ".pt", ".bin", ".ckpt"}
WRAPPER_KEYS = ("model", "state_dict", "model_state", "module", "teacher")  # "teacher": DINO training checkpoints


def read_state_dict(path: str | Path, allowed: tuple[type, ...] = ()) -> dict[str, torch.Tensor]:
    """Load a state dict from `path`, unwrapping {"model": ...} style training checkpoints (pickles may hold exactly
    the `allowed` extra classes, e.g. an argparse.Namespace of training arguments)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint file at {path}. Check the path (it must be a local file).")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        sd = _read_safetensors(path)
    elif suffix in PICKLE_SUFFIXES:
        sd = read_pickle(path, allowed)
    else:
        raise CheckpointError(
            f"{path.name}: unsupported checkpoint type '{suffix}'. Use .safetensors (preferred) or .pth/.pt."
        )
    return _only_tensors(sd, path.name)


def _read_safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{path.name} is not a readable .safetensors file ({_first_line(e)}). "
            "It may be truncated or corrupt: download or export it again."
        ) from None


def read_pickle(path: Path, allowed: tuple[type, ...] = ()) -> dict:
    """`torch.load(weights_only=True)` (plus exactly the `allowed` classes), unwrapping {"model": ...} dicts."""
    return unwrap(load_pickle(path, allowed), path.name)


def load_pickle(path: Path, allowed: tuple[type, ...] = ()) -> object:
    """The object a `.pth` holds, through `torch.load(weights_only=True)` plus exactly the `allowed` classes."""
    if not path.is_file():
        raise CheckpointError(f"No checkpoint file at {path}. Check the path (it must be a local file).")
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for bad files
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(
                f"{path.name} contains Python objects that could run code when loaded, so vizcore refused it "
                "(only plain tensors are accepted). Re-save it as a state dict, ideally as .safetensors."
            ) from None
        raise CheckpointError(f"{path.name} is not a readable PyTorch checkpoint: it may be truncated, corrupt or "
                              "another kind of file. Download or export it again, ideally as .safetensors.") from None


def unwrap(obj: object, name: str) -> dict:
    """The state dict inside a training checkpoint ({"model": ...}, {"state_dict": ...}, ...) or `obj` itself."""
    for key in WRAPPER_KEYS:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            return obj[key]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{name} holds a {type(obj).__name__}, not a state dict of tensors.")
    return obj


def strip_training_prefixes(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The backbone of a training checkpoint: "module." (DistributedDataParallel) removed, and for DINO's
    MultiCropWrapper the "backbone." weights only (its "head." is the self-distillation projection head, not part of
    the ViT)."""
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    if any(k.startswith("backbone.") for k in sd):
        sd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
    return sd


def _only_tensors(sd: dict, name: str) -> dict[str, torch.Tensor]:
    tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise CheckpointError(f"{name} holds no tensors: it is not a model checkpoint.")
    return tensors


def load_into(module: nn.Module, sd: dict[str, torch.Tensor], source: str) -> None:
    """Strictly load `sd` into `module`, naming every missing, unexpected or mis-shaped key on failure."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(sd)
        if sd[k].shape != own[k].shape
    )
    if missing or unexpected or shapes:
        problems = (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes))
        parts = [
            f"{label} ({len(keys)}): {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"
            for label, keys in problems
            if keys
        ]
        raise CheckpointError(
            f"{source} does not fit this architecture; " + "; ".join(parts)
            + ". Pick the architecture the checkpoint was trained with."
        )
    module.load_state_dict(sd, strict=True)


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__
