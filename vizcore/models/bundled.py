"""`bundled:` models: weights (.safetensors) + a JSON model card in assets/models/, trained by `vizcore train`.

Listing them (reading the cards) is `vizcore.models.catalog`, which imports no torch; this module builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vizcore.errors import ModelError
from vizcore.models import autoencoders
from vizcore.models.catalog import assets_dir, list_bundled, models_dir, read_card
from vizcore.models.checkpoints import load_into, read_state_dict
from vizcore.models.domain import card_domain
from vizcore.models.mae import handle as mae_handle
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT, build_timm_vit


def handle_from_card(card: dict, weights: Path | None, spec: str, pretrained: bool = True):
    """Build the model a card describes and load `weights` into it strictly (random weights if None).

    The card's "kind" picks the builder in `BUILDERS`; adding a model family is adding one entry there. The
    handle's `info.domain` / `info.trained_on` name the card's data set (honest labels for narrow models).
    """
    builder = BUILDERS.get(card["kind"])
    if builder is None:
        raise ModelError(f"{spec}: model kind '{card['kind']}' is not supported by this version of vizcore. Check the "
                         f"card's \"kind\": it must be one of {', '.join(sorted(BUILDERS))}.")
    handle = builder(card, weights, spec, pretrained)
    domain, trained_on = card_domain(card)
    handle.info = replace(handle.info, domain=domain, trained_on=trained_on)
    return handle


def _vit_from_card(card: dict, weights: Path | None, spec: str, pretrained: bool) -> TimmViT:
    module = _build_checked(card["architecture"], spec)
    if weights is not None:
        load_into(module, read_state_dict(weights), spec)
    pre = card.get("preprocess", {})
    size = tuple(pre.get("size", [card["architecture"]["img_size"]] * 2))
    preprocess = Preprocess(
        size=(int(size[0]), int(size[1])),
        mean=tuple(pre.get("mean", (0.5, 0.5, 0.5))),
        std=tuple(pre.get("std", (0.5, 0.5, 0.5))),
        dynamic_size=True,
    )
    title = card.get("title", card["name"]) + ("" if pretrained else " (random weights)")
    info = ModelInfo(spec, title, card["kind"], card.get("description", ""), pretrained=pretrained)
    names = card.get("class_names")
    return TimmViT(module, info, preprocess, tuple(names) if names else None)


def _build_checked(arch: dict, spec: str):
    """`build_timm_vit` on a card's architecture, with a clear error for values a ViT cannot have."""
    ints = ("patch_size", "embed_dim", "depth", "num_heads")
    bad = [k for k in ints if k in arch and (isinstance(arch[k], bool) or not isinstance(arch[k], int) or arch[k] < 1)]
    if not bad and arch.get("embed_dim", 1) % arch.get("num_heads", 1):
        bad = ["num_heads (it must divide embed_dim)"]
    if bad:
        raise ModelError(f"{spec}: the model card's architecture has an invalid {', '.join(bad)}. Fix the card "
                         "(positive whole numbers) or re-run the `vizcore train` recipe that wrote it.")
    try:
        return build_timm_vit(arch)
    except (AssertionError, TypeError, ValueError, KeyError) as e:
        raise ModelError(f"{spec}: the model card's architecture cannot be built ({str(e)[:120]}). Fix the card or "
                         "re-run the `vizcore train` recipe that wrote it.") from None


BUILDERS: dict[str, Callable[[dict, Path | None, str, bool], object]] = {
    "vit": _vit_from_card,
    "ae": autoencoders.from_card,
    "sae": autoencoders.from_card,
    "vae": autoencoders.from_card,
    "mae": mae_handle.from_card,
}


def load_bundled(name: str, *, pretrained: bool = True) -> TimmViT:
    """The bundled model `name` (its card's kind picks the builder); random weights when not `pretrained`.
    Raises `ModelError` naming the available models when there is no such card."""
    card_path = models_dir() / f"{name}.json"
    if not card_path.is_file():
        have = ", ".join(i.spec for i in list_bundled()) or "none"
        raise ModelError(f"No bundled model '{name}'. Available: {have}.")
    card = read_card(card_path)
    weights = card_path.with_suffix(".safetensors") if pretrained else None
    return handle_from_card(card, weights, f"bundled:{name}", pretrained)


__all__ = ["BUILDERS", "assets_dir", "handle_from_card", "list_bundled", "load_bundled", "models_dir", "read_card"]
