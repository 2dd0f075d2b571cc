"""The registry: one loader per spec scheme (`SOURCES`), `load_model(spec)` and `random_twin(spec)`.

Adding a model source is adding one entry to `SOURCES`. Importing this module imports torch and timm (the loaders
build modules); listing models does not need it (`vizcore.models.catalog`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from vizcore.errors import ModelError
from vizcore.models.bundled import load_bundled
from vizcore.models.catalog import DEFAULT_MODEL
from vizcore.models.files import load_file
from vizcore.models.hf_source import load_hf
from vizcore.models.protocols import ModelHandle
from vizcore.models.timm_source import load_timm

SOURCES: dict[str, Callable[..., ModelHandle]] = {
    "bundled": load_bundled,
    "timm": load_timm,
    "hf": load_hf,
    "file": load_file,
}


def load_model(spec: str, *, pretrained: bool = True) -> ModelHandle:
    """Load the model `spec` names. `pretrained=False` gives random weights, labelled as such.

    Raises `ModelError` (what to type instead) for a spec that is not `<scheme>:<name>` with a scheme in `SOURCES`,
    and whatever error the source raises for a name it cannot load (unknown name, missing weights, bad file).
    """
    scheme, sep, rest = (spec or "").strip().partition(":")
    if not sep or scheme not in SOURCES or not rest:
        raise ModelError(
            f"'{spec}' is not a model spec. Use bundled:<name>, timm:<name>, hf:<repo id> or file:<path>, "
            f"e.g. {DEFAULT_MODEL} or timm:vit_small_patch16_224.dino."
        )
    return SOURCES[scheme](rest, pretrained=pretrained)


def random_twin(spec: str, *, seed: int = 0) -> ModelHandle:
    """`spec`'s architecture and preprocessing with random weights (labelled so), the same for the same seed: the
    baseline a pretrained model is compared with. The global random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return load_model(spec, pretrained=False)
