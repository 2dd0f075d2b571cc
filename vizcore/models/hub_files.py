"""Where a model spec's files live on the Hugging Face Hub, and whether they are in the local cache.

Known without the network and without an HTTP client: the Home page and the CLI ask `is_downloaded` for every
curated model, and importing `download` (HfApi, the HTTP session, file locks) costs about 0.3 s more here. Files are
looked up in huggingface_hub's own cache (`try_to_load_from_cache`), where `download` puts them.

    src = source_for_spec("hf:facebook/dinov2-small")   # Source(repo_id, revision, weights, extras, required)
    is_downloaded("hf:facebook/dinov2-small", source=src)
"""

from __future__ import annotations

from dataclasses import dataclass

from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id

from vizcore.errors import ModelError

TIMM_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")  # as timm_source looks
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class Source:
    """Where a spec's files live on the Hub; known without network."""

    repo_id: str
    revision: str | None  # branch, tag or commit asked for; None = the default branch
    weights: tuple[str, ...]  # candidate weight files, the first one the repo has wins
    extras: tuple[str, ...]  # small files fetched when the repo has them
    required: tuple[str, ...] = ()  # extras the loader cannot do without


def source_for_spec(spec: str) -> Source:
    """The Hub repository and files behind `spec` ("timm:<name>" or "hf:<repo_id>[@revision]")."""
    scheme, _, rest = (spec or "").strip().partition(":")
    if scheme == "timm" and rest:
        return _timm_source(rest)
    if scheme == "hf" and rest:
        repo_id, _, revision = rest.partition("@")
        try:
            validate_repo_id(repo_id)
        except HFValidationError:
            raise ModelError(f"'{repo_id}' is not a Hugging Face repo id; write it as hf:<org>/<name>.") from None
        return Source(repo_id, revision or None, HF_WEIGHTS, ("config.json", "preprocessor_config.json"),
                      ("config.json",))
    raise ModelError(
        f"'{spec}' cannot be downloaded. Downloads work for timm:<name> (e.g. timm:vit_small_patch16_224.dino) and "
        "hf:<repo id> (e.g. hf:facebook/dinov2-small); bundled: and file: models are already on this machine."
    )


def _timm_source(name: str) -> Source:
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except RuntimeError:  # a known architecture with an unknown tag
        cfg = None
    if cfg is None:
        raise ModelError(f"timm has no pretrained weights named '{name}'; see `timm.list_pretrained('*vit*')`.")
    if not getattr(cfg, "hf_hub_id", None):
        raise ModelError(f"timm's weights for '{name}' are not on the Hugging Face Hub, so vizcore cannot fetch them;"
                         " pick another name from `timm.list_pretrained('*vit*')`.")
    return timm_hub_source(cfg.hf_hub_id, getattr(cfg, "hf_hub_filename", None))


def timm_hub_source(hf_hub_id: str, filename: str | None = None) -> Source:
    """The `Source` of timm weights at `hf_hub_id` ("org/name[@revision]", timm's `pretrained_cfg.hf_hub_id`),
    with `filename` when the config names one (else the files timm looks for)."""
    repo_id, _, revision = hf_hub_id.partition("@")
    return Source(repo_id, revision or None, (filename,) if filename else TIMM_WEIGHTS, ("config.json",))


def is_downloaded(spec: str, *, source: Source | None = None) -> bool:
    """Whether `spec`'s weights (and required files) are in the local cache. Never uses the network.

    source: where the spec's files live when the caller knows it already (`source_for_spec(spec)` otherwise,
        which imports timm for a `timm:` spec).
    """
    src = source or source_for_spec(spec)

    def cached(name: str) -> bool:
        return isinstance(try_to_load_from_cache(src.repo_id, name, revision=src.revision), str)

    return any(cached(name) for name in src.weights) and all(cached(name) for name in src.required)
