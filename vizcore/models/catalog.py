"""The model catalog: what `list_models()` shows, read without loading any model library.

Bundled models are listed from their JSON model cards in assets/models (a card counts when its `.safetensors` is
beside it); the curated pretrained models come from `vizcore.models.curated`, each marked with whether its weights
are in the local Hugging Face cache. Nothing here imports torch or timm, so the app's Home page and `vizcore models`
list models in milliseconds; building a model is `vizcore.models.bundled` / `vizcore.models.registry`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from vizcore.errors import ModelError
from vizcore.models.curated import list_curated
from vizcore.models.domain import card_domain
from vizcore.models.info import ModelInfo

DEFAULT_MODEL = "bundled:tiny_vit"


def assets_dir() -> Path:
    """The assets folder: $VIZCORE_ASSETS, else `assets/` beside the package (editable install / checkout)."""
    return Path(os.environ.get("VIZCORE_ASSETS", Path(__file__).resolve().parents[2] / "assets"))


def models_dir() -> Path:
    """Where the bundled models live: `assets_dir() / "models"` (card `<name>.json` + `<name>.safetensors`)."""
    return assets_dir() / "models"


def read_card(path: Path) -> dict:
    """A model card (JSON) as a dict; raises `ModelError` when it is unreadable or lacks name / kind /
    architecture."""
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"Model card {path.name} is unreadable ({e}); re-run the `vizcore train` recipe.") from None
    for key in ("name", "kind", "architecture"):
        if key not in card:
            raise ModelError(f"Model card {path.name} lacks '{key}'; re-run the `vizcore train` recipe.")
    return card


def list_bundled() -> list[ModelInfo]:
    """Every bundled model whose card and weights are both in `models_dir()`, sorted by card name."""
    infos = []
    for card_path in sorted(models_dir().glob("*.json")):
        if not card_path.with_suffix(".safetensors").is_file():
            continue
        card = read_card(card_path)
        domain, trained_on = card_domain(card)
        infos.append(ModelInfo(
            spec=f"bundled:{card['name']}",
            title=card.get("title", card["name"]),
            kind=card["kind"],
            description=card.get("description", ""),
            domain=domain,
            trained_on=trained_on,
        ))
    return infos


def list_models() -> list[ModelInfo]:
    """Bundled models and the curated pretrained models, each marked with whether its weights are on this
    machine (`offline`); curated entries carry purpose (`description`), size, licence and pages."""
    return list_bundled() + list_curated()
