"""Loading MAE weights: the official release's checkpoints and Hugging Face `ViTMAEForPreTraining` state dicts.

Official training checkpoints are `torch.save`d dicts holding the weights under "model" and an
`argparse.Namespace` under "args": `torch.load(weights_only=True)` is allowed exactly that one extra class.
Head counts cannot be recovered from weights; they come from the caller or the standard presets.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

import torch

from vizcore.errors import CheckpointError, ModelError
from vizcore.models.checkpoints import load_into, load_pickle, read_state_dict, unwrap
from vizcore.models.hf_transformers import read_weights, resolve_trainer_folder
from vizcore.models.mae.model import MaeConfig, MaskedAutoencoder

PRESET_HEADS = {768: 12, 1024: 16, 1280: 16}  # ViT-B, ViT-L, ViT-H encoders; decoders use 16


class EncoderOnlyError(CheckpointError):
    """The checkpoint has an MAE encoder but no decoder, so it cannot reconstruct."""


class NotMaeError(ModelError):
    """The checkpoint's keys are not those of an MAE (official or Hugging Face names)."""


MAE_KEYS = {"pos_embed", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight"}  # present in every MAE


def read_mae_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of an official or HF MAE checkpoint, converted to our (official) parameter names."""
    return read_mae_file(path)[0]


def read_mae_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors with our names, the training arguments saved with them) from an official `.pth`, a `.safetensors`
    file or a Hugging Face ViTMAE folder (also a Trainer output folder: its newest checkpoint-N/).

    The arguments are the official script's `args` Namespace as a dict ({} when the file has none): `norm_pix_loss`
    there says how the prediction must be un-normalised.
    """
    path = Path(path)
    args: dict = {}
    if path.is_dir():
        sd = read_weights(resolve_trainer_folder(path))
    elif path.suffix == ".safetensors":
        sd = read_state_dict(path)
    else:
        sd, args = _torch_load(path)
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    return (from_hf(sd) if any(k.startswith("vit.") for k in sd) else sd), args


def _torch_load(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """An official checkpoint ({"model", "optimizer", "epoch", "scaler", "args"}): the tensors under "model" and
    the argparse.Namespace under "args" (the one extra class allowed) as a dict."""
    obj = load_pickle(path, allowed=(argparse.Namespace,))
    args = obj.get("args") if isinstance(obj, dict) else None
    sd = unwrap(obj, path.name)
    return {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}, (
        vars(args) if isinstance(args, argparse.Namespace) else {})


def infer_config(sd: dict[str, torch.Tensor], *, num_heads: int | None = None, decoder_num_heads: int = 16,
                 norm_pix_loss: bool = False, encoder_only_ok: bool = False, norm_eps: float = 1e-6) -> MaeConfig:
    """The architecture a state dict with official names describes (square grid, as every MAE release uses).

    Without decoder_* keys the checkpoint is encoder-only: an error, unless `encoder_only_ok` (then the decoder
    fields are zero).
    """
    full = "decoder_pred.weight" in sd
    if not full and not encoder_only_ok:
        raise EncoderOnlyError("This checkpoint holds only the MAE encoder (no decoder), so it cannot "
                               "reconstruct masked patches. Use it on the attention or embedding pages, or load "
                               "a full pre-training checkpoint (with decoder_* weights).")
    try:
        D, C, p, _ = sd["patch_embed.proj.weight"].shape
        L = sd["pos_embed"].shape[1] - 1
        Dd = sd["decoder_embed.weight"].shape[0] if full else 0
        hidden = sd["blocks.0.mlp.fc1.weight"].shape[0]
    except KeyError as e:
        raise CheckpointError(f"Not an MAE state dict: {e.args[0]} is missing.") from None
    grid = math.isqrt(L)
    if grid * grid != L:
        raise CheckpointError(f"The position embedding has {L} patch rows, not a square grid.")
    heads = num_heads or PRESET_HEADS.get(D)
    if heads is None:
        raise CheckpointError(f"Width {D} matches no standard MAE preset (768, 1024, 1280), so the number of "
                              "attention heads is unknown: add ?heads=N to the file: spec (or ?arch=<timm name> "
                              "if this is not an MAE).")
    return MaeConfig(img_size=grid * p, patch_size=p, in_chans=C, embed_dim=D, depth=_count(sd, "blocks"),
                     num_heads=heads, decoder_embed_dim=Dd, decoder_depth=_count(sd, "decoder_blocks"),
                     decoder_num_heads=decoder_num_heads, mlp_ratio=hidden / D, norm_pix_loss=norm_pix_loss,
                     norm_eps=norm_eps)


def _count(sd: dict, prefix: str) -> int:
    return len({m.group(1) for k in sd if (m := re.match(rf"{prefix}\.(\d+)\.", k))})


def load_mae(path: str | Path, **config_overrides) -> MaskedAutoencoder:
    """Build the MAE a checkpoint describes and load it strictly (mismatches name their keys)."""
    sd = read_mae_checkpoint(path)
    model = MaskedAutoencoder(infer_config(sd, **config_overrides))
    load_into(model, sd, str(path))
    return model.eval()


_HF_BLOCK = {  # both key generations: (vit.encoder.layer.i | vit.layers.i).<inner> -> blocks.i.<ours>
    "layernorm_before": "norm1", "layernorm_after": "norm2", "attention.output.dense": "attn.proj",
    "attention.o_proj": "attn.proj", "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
    "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
}
_HF_QKV = r"attention\.(?:attention\.(query|key|value)|(q|k|v)_proj)"
# decoder layers: "decoder_layers" on the Hub, "layers" in memory, "decoder_encoder.layer" as transformers 5 saves them
_HF_LAYERS = (r"(vit\.encoder\.layer|vit\.layers|decoder\.decoder_layers|decoder\.layers"
              r"|decoder\.decoder_encoder\.layer)\.(\d+)\.(.+)\.(weight|bias)$")
_HF_TOP = {
    "vit.embeddings.cls_token": "cls_token", "vit.embeddings.position_embeddings": "pos_embed",
    "vit.embeddings.patch_embeddings.projection": "patch_embed.proj", "vit.layernorm": "norm",
    "decoder.mask_token": "mask_token", "decoder.decoder_pos_embed": "decoder_pos_embed",
    "decoder.decoder_embed": "decoder_embed", "decoder.decoder_norm": "decoder_norm",
    "decoder.decoder_pred": "decoder_pred",
}
_QKV_ORDER = {"query": 0, "key": 1, "value": 2, "q": 0, "k": 1, "v": 2}


def from_hf(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Hugging Face `ViTMAEForPreTraining` names -> ours, for both key generations.

    Generation 1: `vit.encoder.layer.i.attention.attention.query`, `...attention.output.dense`,
    `intermediate.dense`, `output.dense`. Generation 2: `vit.layers.i.attention.q_proj` / `k_proj` / `v_proj` /
    `o_proj`. Separate q/k/v projections are concatenated into the fused qkv in (q, k, v) order. A key that
    matches no rule is an error (naming it), never silently dropped.
    """
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[int, torch.Tensor]] = {}
    unknown = []
    for key, value in sd.items():
        m = re.match(_HF_LAYERS, key)
        if m:
            base = ("blocks" if m.group(1).startswith("vit") else "decoder_blocks") + f".{m.group(2)}"
            inner, kind = m.group(3), m.group(4)
            qm = re.fullmatch(_HF_QKV, inner)
            if qm:
                qkv.setdefault((base, kind), {})[_QKV_ORDER[qm.group(1) or qm.group(2)]] = value
            elif inner in _HF_BLOCK:
                out[f"{base}.{_HF_BLOCK[inner]}.{kind}"] = value
            else:
                unknown.append(key)
            continue
        top = next((ours + key[len(hf):] for hf, ours in _HF_TOP.items() if key == hf or key.startswith(hf + ".")),
                   None)
        if top is None:
            unknown.append(key)
        else:
            out[top] = value
    if unknown:
        raise CheckpointError(f"Unrecognised Hugging Face ViTMAE keys: {', '.join(unknown[:5])}. vizcore reads "
                              "ViTMAEForPreTraining checkpoints (both key-naming generations).")
    for (base, kind), parts in qkv.items():
        if len(parts) != 3:
            raise CheckpointError(f"{base}: the checkpoint lacks one of the query/key/value {kind}es.")
        out[f"{base}.attn.qkv.{kind}"] = torch.cat([parts[0], parts[1], parts[2]])
    return out


def read_mae_config(path: str | Path) -> dict:
    """Head counts, norm_pix_loss and the LayerNorm eps (`layer_norm_eps`, transformers' default 1e-12 when the
    file leaves it out) from a Hugging Face `config.json` in (or beside) the checkpoint; {} if none."""
    path = Path(path)
    config = (resolve_trainer_folder(path) if path.is_dir() else path.parent) / "config.json"
    if not config.is_file():
        return {}
    try:
        c = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{config} is not readable JSON ({e}).") from None
    if not isinstance(c, dict) or c.get("model_type") != "vit_mae":
        return {}
    names = {"num_attention_heads": "num_heads", "decoder_num_attention_heads": "decoder_num_heads",
             "norm_pix_loss": "norm_pix_loss"}
    return {ours: c[hf] for hf, ours in names.items() if hf in c} | {"norm_eps": float(c.get("layer_norm_eps", 1e-12))}
