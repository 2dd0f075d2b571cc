"""Attention maps of Vision Transformers: capture, per-head CLS maps, rollout, gradient rollout, masks.

- Capture hooks every block's softmaxed attention from outside the model (timm's ``attn_drop`` input),
  forcing the eager attention path for the call only: the fused ``scaled_dot_product_attention`` kernel never
  materialises the matrix, so hooks on it see nothing.
- Rollout: Abnar & Zuidema, "Quantifying Attention Flow in Transformers" (2020). Rows are re-normalised after
  adding the identity (vit-explain divides by column sums; that is a bug we do not copy).
- Gradient rollout: Chefer, Gur & Wolf, "Generic Attention-model Explainability" (ICCV 2021), gradient-only
  variant: A_bar = E_h[(dA ⊙ A)^+], R <- R + A_bar R.
- Mass masks: Caron et al., DINO (2021): the smallest set of patches that holds p of the attention mass.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch

from vizcore.errors import AttentionCaptureError, InputError
from vizcore.models.layout import TokenLayout

HEAD_FUSIONS = ("mean", "max", "min")


@dataclass(frozen=True)
class AttentionMaps:
    """All layers' attention for a batch.

    Attributes:
        attn: (B, L, H, N, N) softmax attention; row q is where query token q looks.
        layout: token layout of the sequence (prefix tokens, patch grid).
        image: (B, C, H, W) in [0, 1], exactly what the model saw (for overlays).
        logits: (B, K) model outputs of the same forward pass.
        grads: (B, L, H, N, N) d(logit of `target`)/d(attn), only from `capture(..., target=...)`.
        target: (B,) class index the gradients were taken for, or None.
    """

    attn: torch.Tensor
    layout: TokenLayout
    image: torch.Tensor
    logits: torch.Tensor
    grads: torch.Tensor | None = None
    target: torch.Tensor | None = None

    @property
    def num_layers(self) -> int:
        return self.attn.shape[1]

    @property
    def num_heads(self) -> int:
        return self.attn.shape[2]


def _attention_modules(module: torch.nn.Module) -> list[torch.nn.Module]:
    return [block.attn for block in module.blocks if hasattr(block.attn, "attn_drop")]


@contextmanager
def eager_attention(module: torch.nn.Module):
    """Force every block's eager attention path (so the softmax matrix exists) for the duration; restore after.

    The caller must own the module (hold the handle's lock): the flag lives on the shared module.
    """
    attns = [a for a in _attention_modules(module) if hasattr(a, "fused_attn")]
    saved = [a.fused_attn for a in attns]
    try:
        for a in attns:
            a.fused_attn = False
        yield
    finally:
        for a, fused in zip(attns, saved):
            a.fused_attn = fused


@contextmanager
def _eager_attention_hooks(module: torch.nn.Module, store: list, keep_graph: bool):
    """Force the eager attention path and record each block's softmax output; undo both on exit."""

    def hook(_mod, _inp, out):
        store.append(out if keep_graph else out.detach())

    handles = [a.attn_drop.register_forward_hook(hook) for a in _attention_modules(module)]
    try:
        with eager_attention(module):
            yield
    finally:
        for h in handles:
            h.remove()


PREDICTED = "predicted"  # `capture(target=PREDICTED)`: each image's top class, from the same forward pass


def capture(model, images, *, fit: str = "resize", target: int | list[int] | str | None = None) -> AttentionMaps:
    """Run `model` once on `images` and return every layer's attention (B, L, H, N, N).

    Args:
        model: a ViT handle (see `vizcore.load_model`).
        images: PIL image(s) or a (B, C, H, W) tensor in [0, 1]; the handle resizes and normalises.
        fit: "resize", "crop" or "keep_aspect" (see `TimmViT.prepare`).
        target: when given, also take gradients of that class logit w.r.t. each attention map (for
            `grad_rollout`); one index for all images, one per image, or `PREDICTED` ("predicted"): each image's
            top class, read from this same forward pass (one pass instead of a capture to find it plus one to
            explain it). The attention and logits are the same as without a target.

    Raises:
        AttentionCaptureError: the model ran but no attention matrix was produced.
    """
    x = model.prepare(images, fit=fit)  # (B, C, H, W) in [0, 1]
    layout = model.layout(tuple(x.shape[-2:]))
    store: list[torch.Tensor] = []
    with model.lock:
        module = model.module
        if target is None:
            with torch.inference_mode(), _eager_attention_hooks(module, store, keep_graph=False):
                logits = module(model.normalize(x))
            grads = tgt = None
        else:
            with torch.enable_grad(), _eager_attention_hooks(module, store, keep_graph=True):
                logits = module(model.normalize(x))
                tgt = _targets(target, logits)
                _check_captured(store, model, layout)
                score = logits.gather(1, tgt[:, None]).sum()
                grads = torch.stack(torch.autograd.grad(score, store), dim=1)  # (B, L, H, N, N)
            logits = logits.detach()
    _check_captured(store, model, layout)
    attn = torch.stack([a.detach().float() for a in store], dim=1)  # (B, L, H, N, N)
    return AttentionMaps(attn, layout, x, logits.float(), grads, tgt)


def _targets(target, logits: torch.Tensor) -> torch.Tensor:
    if isinstance(target, str):
        if target != PREDICTED:
            raise InputError(f"Unknown target {target!r}: give a class index or '{PREDICTED}'.")
        return logits.detach().argmax(dim=-1)  # (B,)
    tgt = torch.as_tensor(target, dtype=torch.long).flatten()
    if tgt.numel() == 1:
        tgt = tgt.expand(logits.shape[0])
    if logits.ndim != 2 or tgt.numel() != logits.shape[0] or (tgt < 0).any() or (tgt >= logits.shape[1]).any():
        raise InputError(f"Class index {target} is outside this model's {logits.shape[-1]} outputs.")
    return tgt


def _check_captured(store: list, model, layout: TokenLayout) -> None:
    expected = len(model.module.blocks)
    if len(store) != expected:
        raise AttentionCaptureError(
            f"Captured {len(store)} attention maps from {expected} blocks of {model.info.spec}; this model's "
            "attention does not go through a hookable softmax. Pick a standard ViT."
        )
    if store[0].shape[-1] != layout.num_tokens:
        raise AttentionCaptureError(
            f"Attention covers {store[0].shape[-1]} tokens but the layout expects {layout.num_tokens}; "
            "the model's token layout is not one vizcore understands."
        )


def fuse_heads(attn: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """(..., H, N, N) -> (..., N, N) by mean, max or min over heads."""
    if how not in HEAD_FUSIONS:
        raise InputError(f"Unknown head fusion '{how}'. Use one of {', '.join(HEAD_FUSIONS)}.")
    if how == "mean":
        return attn.mean(dim=-3)
    return attn.amax(dim=-3) if how == "max" else attn.amin(dim=-3)


def to_grid(values: torch.Tensor, layout: TokenLayout) -> torch.Tensor:
    """Patch-token values (..., num_patches) -> (..., gh, gw)."""
    return values.reshape(*values.shape[:-1], *layout.grid)


def cls_maps(maps: AttentionMaps, layer: int) -> torch.Tensor:
    """Per-head attention of the CLS query over the patches at `layer`: (B, H, gh, gw).

    Models without a CLS token use the mean over all queries. Mass on prefix tokens is left out, so a head
    that looks mostly at registers shows a faint map (see `prefix_share`).
    """
    p = maps.layout.num_prefix_tokens
    a = maps.attn[:, layer]  # (B, H, N, N)
    rows = a[:, :, 0, p:] if maps.layout.has_cls else a[:, :, :, p:].mean(dim=2)  # (B, H, P)
    return to_grid(rows, maps.layout)


def query_map(maps: AttentionMaps, layer: int, token: int, head_fusion: str = "mean") -> torch.Tensor:
    """Where token `token` (a row of the sequence) looks at `layer`, over the patches: (B, gh, gw)."""
    if not 0 <= token < maps.layout.num_tokens:
        raise InputError(f"Token {token} is outside the sequence of {maps.layout.num_tokens} tokens.")
    a = fuse_heads(maps.attn[:, layer], head_fusion)  # (B, N, N)
    return to_grid(a[:, token, maps.layout.num_prefix_tokens:], maps.layout)


def prefix_share(maps: AttentionMaps) -> torch.Tensor:
    """Share of each query's attention that goes to each prefix token, averaged over queries: (B, L, H, prefix)."""
    p = maps.layout.num_prefix_tokens
    return maps.attn[..., :p].mean(dim=-2)  # (B, L, H, p)


def rollout_matrix(attn: torch.Tensor, head_fusion: str = "mean", discard_ratio: float = 0.0) -> torch.Tensor:
    """Attention rollout over layers: (B, L, H, N, N) -> (B, N, N), each row a distribution over input tokens.

    Per layer: fuse heads; optionally zero the weakest `discard_ratio` of each row (never the diagonal);
    add the identity for the residual path; re-normalise rows; multiply onto the running product.
    """
    if not 0.0 <= discard_ratio < 1.0:
        raise InputError(f"discard_ratio must be in [0, 1), got {discard_ratio}.")
    B, L, _, N, _ = attn.shape
    eye = torch.eye(N, dtype=attn.dtype, device=attn.device)
    result = eye.expand(B, N, N).clone()
    for layer in range(L):
        a = fuse_heads(attn[:, layer], head_fusion)  # (B, N, N)
        if discard_ratio > 0:
            a = _discard_weakest(a, discard_ratio)
        a = a + eye
        a = a / a.sum(dim=-1, keepdim=True)
        result = a @ result  # (B, N, N)
    return result


def _discard_weakest(a: torch.Tensor, ratio: float) -> torch.Tensor:
    n = a.shape[-1]
    k = int(n * ratio)
    if k == 0:
        return a
    off_diag = a.masked_fill(torch.eye(n, dtype=torch.bool, device=a.device), float("inf"))
    idx = off_diag.topk(k, dim=-1, largest=False).indices  # (B, N, k)
    return a.scatter(-1, idx, 0.0)


def rollout(maps: AttentionMaps, *, head_fusion: str = "mean", discard_ratio: float = 0.0) -> torch.Tensor:
    """Rollout map of the CLS token (mean over queries without CLS) over the patches: (B, gh, gw), sums to 1."""
    r = rollout_matrix(maps.attn, head_fusion, discard_ratio)  # (B, N, N)
    return _patch_distribution(r, maps.layout)


def grad_rollout(maps: AttentionMaps) -> torch.Tensor:
    """Class-specific gradient-weighted rollout (Chefer et al. 2021, gradient-only): (B, gh, gw), sums to 1."""
    if maps.grads is None:
        raise InputError("These attention maps have no gradients; capture them with a target class.")
    weighted = (maps.grads.float() * maps.attn).clamp(min=0).mean(dim=2)  # (B, L, N, N)
    B, L, N, _ = weighted.shape
    r = torch.eye(N, dtype=weighted.dtype).expand(B, N, N).clone()
    for layer in range(L):
        r = r + weighted[:, layer] @ r  # (B, N, N)
    return _patch_distribution(r, maps.layout)


def _patch_distribution(r: torch.Tensor, layout: TokenLayout) -> torch.Tensor:
    p = layout.num_prefix_tokens
    rows = r[:, 0, p:] if layout.has_cls else r[:, p:, p:].mean(dim=1)  # (B, P)
    return to_grid(normalize_mass(rows), layout)


def normalize_mass(values: torch.Tensor) -> torch.Tensor:
    """Scale the last dimension to sum to 1 (all-zero rows stay zero)."""
    total = values.sum(dim=-1, keepdim=True)
    return torch.where(total > 0, values / total.clamp_min(1e-12), torch.zeros_like(values))


def mass_mask(grid: torch.Tensor, mass: float) -> torch.Tensor:
    """DINO-style mask: the smallest set of patches whose attention holds at least `mass` of the total.

    Args:
        grid: (..., gh, gw) non-negative attention.
        mass: fraction in (0, 1].

    Returns:
        bool tensor (..., gh, gw).
    """
    if not 0.0 < mass <= 1.0:
        raise InputError(f"mass must be in (0, 1], got {mass}.")
    flat = normalize_mass(grid.flatten(-2).float())  # (..., P)
    vals, idx = flat.sort(dim=-1, descending=True)
    before = vals.cumsum(dim=-1) - vals  # mass held by strictly larger patches
    keep_sorted = before < mass - 1e-7
    keep = torch.zeros_like(keep_sorted).scatter(-1, idx, keep_sorted)
    return keep.reshape(grid.shape)


NEAR_UNIFORM = 0.10  # a map whose every patch lies within 10% of the uniform level is "near uniform"
UNIFORM_OVER = ("tokens", "patches")


def uniform_level(layout: TokenLayout, over: str = "tokens") -> float:
    """What every patch gets when attention is spread evenly: the reference a map's values mean something against.

    "tokens": 1/N for a softmax row over all N tokens, prefix tokens included (per-head CLS maps, a query patch's
    map, a prefix token's map). "patches": 1/P for a distribution over the P patches (rollout, gradient rollout).
    """
    if over not in UNIFORM_OVER:
        raise InputError(f"Unknown reference '{over}'. Use 'tokens' or 'patches'.")
    return 1.0 / (layout.num_tokens if over == "tokens" else layout.num_patches)


def deviation_from_uniform(grid, level: float) -> float:
    """The largest relative distance of any patch from the uniform level: max |x / level - 1| (0.04 = within 4%).

    Below `NEAR_UNIFORM` a map's colours only stretch tiny differences: say so next to it.
    """
    values = torch.as_tensor(grid, dtype=torch.float64)
    if values.numel() == 0 or level <= 0:
        raise InputError("deviation_from_uniform needs a non-empty map and a positive uniform level.")
    return float((values / level - 1.0).abs().max())


def top_predictions(logits: torch.Tensor, class_names: tuple[str, ...] | None, k: int = 5) -> list[list[tuple]]:
    """Top-k (class index, name, probability) per image."""
    probs = logits.float().softmax(dim=-1)
    p, i = probs.topk(min(k, probs.shape[-1]), dim=-1)
    names = class_names or tuple(f"class {j}" for j in range(probs.shape[-1]))
    return [[(int(c), names[int(c)], float(q)) for q, c in zip(pr, ir)] for pr, ir in zip(p, i)]
