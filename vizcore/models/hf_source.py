"""`hf:<repo_id>[@revision]` models and `transformers` folders as vizcore handles.

`hf:` reads the repository's snapshot from the local Hugging Face cache only (fetched there on request by
`vizcore download` or the app's Download weights button); a folder is one `save_pretrained` wrote, or a Trainer
output folder (its newest `checkpoint-N/`). A `ViTMAEForPreTraining` checkpoint becomes the full MAE (`MaeViT`, with
its decoder, for reconstructions); every other ViT-family checkpoint is converted exactly to a timm module
(`hf_transformers`) and wrapped in a `TimmViT` with its class names (`id2label`) and preprocessing
(`preprocessor_config.json`).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from huggingface_hub import try_to_load_from_cache

from vizcore.errors import WeightsUnavailableError
from vizcore.models.curated import lookup, missing_weights_message, with_curated
from vizcore.models.hf_transformers import HfVit, folder_config, load_transformers_folder
from vizcore.models.hub_files import is_downloaded, source_for_spec
from vizcore.models.mae.handle import MaeViT, from_checkpoint
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT

RANDOM_SEED = 0  # random weights of a converted checkpoint are the same on every load


def load_hf(rest: str, *, pretrained: bool = True) -> TimmViT:
    """`hf:<repo_id>[@revision]` from the local cache (never the network)."""
    spec = f"hf:{rest.strip()}"
    src = source_for_spec(spec)
    config = try_to_load_from_cache(src.repo_id, "config.json", revision=src.revision)
    if pretrained and not is_downloaded(spec):
        raise WeightsUnavailableError(missing_weights_message(spec))
    if not isinstance(config, str):  # random weights need the architecture, which only the repo's config.json holds
        raise WeightsUnavailableError(f"{spec} is not on this machine, and even random weights need its config.json "
                                      f"(the architecture). Download it first: `vizcore download {spec}` or the "
                                      "Download weights button.")
    entry = lookup(spec)
    title = entry.title if entry else src.repo_id
    return load_folder(Path(config).parent, spec, pretrained=pretrained, title=title)


def load_folder(path: Path, spec: str, *, pretrained: bool = True, title: str | None = None,
                num_heads: int | None = None, norm_pix_loss: bool | None = None) -> TimmViT:
    """A `transformers` folder (or Trainer output folder) as a handle; `pretrained=False` keeps the architecture
    and preprocessing with random weights."""
    path = Path(path)
    config = folder_config(path)
    architecture = (config.get("architectures") or [""])[0]
    if config.get("model_type") == "vit_mae" and architecture != "ViTMAEModel":  # ForPreTraining (or unnamed)
        handle: MaeViT = from_checkpoint(path, spec, num_heads=num_heads, norm_pix_loss=norm_pix_loss,
                                         pretrained=pretrained, title=title or path.name)
        handle.info = with_curated(handle.info)
        return handle
    hf = load_transformers_folder(path)
    if not pretrained:
        _randomise(hf.module, float(config.get("layerscale_value", 1.0)))
    return wrap(hf, spec, title or f"{path.name} ({hf.architecture})", pretrained)


def wrap(hf: HfVit, spec: str, title: str, pretrained: bool = True) -> TimmViT:
    """A converted checkpoint behind the ViT protocol: its size, mean/std and class names."""
    module = hf.module
    skipped = f" Not converted (not used by a forward pass): {'; '.join(hf.ignored)}." if hf.ignored else ""
    info = ModelInfo(spec, title + ("" if pretrained else " (random weights)"), "vit",
                     f"A transformers {hf.architecture} ({hf.model_type}) from {hf.folder}, converted exactly to "
                     f"a timm Vision Transformer.{skipped}", pretrained=pretrained)
    preprocess = Preprocess(size=hf.image_size, mean=hf.mean, std=hf.std, dynamic_size=True,
                            in_chans=int(module.patch_embed.proj.in_channels))
    return TimmViT(module, with_curated(info), preprocess, hf.class_names)


def _randomise(module: nn.Module, layerscale: float) -> None:
    """Fresh weights for every parameter (timm's ViT init), the same on every call (seeded, global RNG untouched)."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(RANDOM_SEED)
        for m in module.modules():
            if m is not module and hasattr(m, "reset_parameters"):
                m.reset_parameters()
        module.init_weights()
        for name, p in module.named_parameters():
            if name.endswith(".gamma"):  # layer scale: transformers' initial value
                p.fill_(layerscale)
