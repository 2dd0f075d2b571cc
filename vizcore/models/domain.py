"""Honest labels for narrow models: what a bundled model was trained on, and when its answer means nothing.

The bundled models were trained here on one small synthetic domain (the model card's data set): the tiny ViT names
one of 8 shapes in a cluttered 64-px scene, the autoencoders know 8x8 digits or 32-px sprites. Shown a photo or a
user's upload they still answer ("ring 84.6%" for a cat), so every view that shows such an answer asks
`out_of_domain_note(handle, image_domain)` first and shows the note beside the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from vizcore.models.curated import format_size, suggestion
from vizcore.models.info import ModelInfo

DOMAINS = {  # data set name (vizcore.data.list_datasets()) -> what a model trained on it has seen
    "scenes": "synthetic 64-px scenes in which one of 8 simple shapes hides among clutter",
    "digits": "scikit-learn's 8x8-pixel handwritten digits",
    "sprites": "procedural 32-px sprites (a shape at some position, scale and rotation)",
}


@dataclass(frozen=True)
class DomainNote:
    """Why a model's answer for an image is not meaningful, and the real model to use instead.

    Attributes:
        text: two or three sentences for the person (what it was trained on, why this answer means nothing, what
            to do instead).
        suggestion: a curated pretrained model to switch to (its `offline` says whether it still needs a
            download), or None when there is none for this kind of model.
    """

    text: str
    suggestion: ModelInfo | None


def card_domain(card: dict) -> tuple[str, str]:
    """(domain, trained_on) from a model card's "data" block: a data set name or the scenes generator."""
    data = card.get("data") or {}
    domain = str(data.get("dataset") or ("scenes" if "scenes" in str(data.get("generator", "")) else ""))
    return domain, DOMAINS.get(domain, domain)


def out_of_domain_note(model, image_domain: str | None, *, what: str = "this image") -> DomainNote | None:
    """A note when `model` (a handle or its `ModelInfo`) is narrow and the image is not from its domain.

    Args:
        image_domain: the data set the image comes from ("scenes", "photos", "digits", ...), or None for an
            upload or anything else of unknown origin (never in a narrow model's domain).
        what: how to name the input in the sentence, e.g. "your upload" or "cat (scikit-image)".

    Returns None for broad models (pretrained on natural images), for random weights (labelled as such already)
    and for images from the model's own domain.
    """
    info: ModelInfo = getattr(model, "info", model)
    if not info.domain or not info.pretrained or image_domain == info.domain:
        return None
    trained_on = info.trained_on or DOMAINS.get(info.domain, info.domain)
    names = getattr(model, "class_names", None)
    if names:
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        answer = (f"Its predictions can only be one of its {len(names)} classes ({shown}), and its attention has "
                  "nothing it learned to look for here")
    else:
        answer = "Its output here shows only how it distorts unfamiliar input, not anything it learned about it"
    real = suggestion(info.kind)
    text = (f"**{info.title}** was trained only on {trained_on}. {what[:1].upper() + what[1:]} is outside that "
            f"domain, so its answer is not meaningful. {answer}.")
    if real is not None:
        how = "it is on this machine" if real.offline else f"one download, {format_size(real.size_bytes)}"
        text += f" For a real model, switch to **{real.title}** ({how})."
    return DomainNote(text, real)
