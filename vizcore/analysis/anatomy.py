"""Anatomy of a Vision Transformer: parameters by component, the ViT-B/16 count reconciled, attention distance.

- Parameter table: every parameter of the module, grouped by component (patch embedding, position embedding,
  prefix tokens, per-block norm1 / qkv / projection / norm2 / MLP, final norm, head); nothing is dropped, so
  the totals equal ``sum(p.numel() for p in module.parameters())`` exactly.
- The simplified count of ViT-B/16 (86,329,344) next to the real one (86,567,656 in timm), every parameter of
  the difference named (`reconcile_vit_b`).
- Mean attention distance: Dosovitskiy et al., "An Image is Worth 16x16 Words" (ICLR 2021), Fig. 7 (right).

Live tensors through a block (`block_shapes`, `layernorm_effect`, `residual_norms`, `activation_curves`) live in
`vizcore.blocks` and layer similarity (`linear_cka`, `cka_matrix`, `layer_features`) in `vizcore.cka`; both
are re-exported here so a page needs only `vizcore.anatomy`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from vizcore.analysis.blocks import ShapeStep, activation_curves, block_shapes, layernorm_effect, residual_norms
from vizcore.analysis.cka import cka_matrix, layer_features, linear_cka
from vizcore.analysis.trace import BlockTrace, HeadTrace, InputTrace, trace_block, trace_head, trace_input
from vizcore.errors import InputError
from vizcore.models.layout import TokenLayout

__all__ = [
    "BlockTrace", "HeadTrace", "InputTrace", "trace_block", "trace_head", "trace_input",
    "ParamRow", "ShapeStep", "activation_curves", "block_shapes", "cka_matrix", "component_totals",
    "describe_attention_distance", "layer_features", "layernorm_effect", "linear_cka", "mean_attention_distance",
    "parameter_table", "patch_distances", "reconcile_vit_b", "residual_norms", "simplified_vit_count",
    "simplified_vit_terms", "uniform_attention_distance", "vit_dimensions",
]


@dataclass(frozen=True)
class ParamRow:
    """One parameter tensor of a model.

    Attributes:
        component: what it belongs to, e.g. "qkv", "mlp fc1", "position embedding"; "other" if unrecognised.
        block: encoder block index, or None outside the blocks.
        name: full parameter name, e.g. "blocks.3.attn.qkv.bias".
        shape: tensor shape.
        count: number of scalars.
    """

    component: str
    block: int | None
    name: str
    shape: tuple[int, ...]
    count: int


# (component, regex on the name) in display order; the first match wins.
_TOP = (
    ("patch embedding", r"patch_embed\."),
    ("position embedding", r"pos_embed$"),
    ("cls token", r"cls_token$"),
    ("distillation token", r"dist_token$"),
    ("register tokens", r"reg_token$"),
    ("pre-norm", r"norm_pre\."),
    ("relative position bias", r"rel_pos_bias\."),
)
_BLOCK = (  # matched on the name after "blocks.<i>."
    ("norm1", r"norm1\."),
    ("qkv", r"attn\.(qkv|q_proj|k_proj|v_proj|kv)\.|attn\.[qkv]_bias$"),
    ("q/k norm", r"attn\.[qk]_norm\."),
    ("attention norm", r"attn\.norm\."),
    ("attention projection", r"attn\.proj\."),
    ("relative position bias", r"attn\.relative_position"),
    ("layer scale", r"ls[12]\.|gamma_[12]$"),
    ("norm2", r"norm2\."),
    ("mlp fc1", r"mlp\.fc1(_g|_x)?\."),
    ("mlp norm", r"mlp\.norm\."),
    ("mlp fc2", r"mlp\.fc2\."),
)
_END = (
    ("final norm", r"(norm|fc_norm)\."),
    ("head", r"(head|head_dist|attn_pool)\."),
)
COMPONENTS = tuple(c for c, _ in _TOP + _BLOCK + _END) + ("other",)


def _classify(name: str) -> tuple[int, int | None, str]:
    """A parameter name -> (stage 0 before / 1 in / 2 after the blocks, block index, component)."""
    m = re.match(r"blocks\.(\d+)\.(.+)$", name)
    if m:
        rest = m.group(2)
        comp = next((c for c, pat in _BLOCK if re.match(pat, rest)), "other")
        return 1, int(m.group(1)), comp
    for stage, table in ((0, _TOP), (2, _END)):
        comp = next((c for c, pat in table if re.match(pat, name)), None)
        if comp is not None:
            return stage, None, comp
    return 2, None, "other"


def parameter_table(model) -> list[ParamRow]:
    """Every parameter of `model` (a handle or module) as a row, grouped by component in forward order.

    Shared (tied) parameters are listed once, as `module.parameters()` counts them.
    """
    module: nn.Module = getattr(model, "module", model)
    keyed = []
    for i, (name, p) in enumerate(module.named_parameters()):
        stage, block, comp = _classify(name)
        row = ParamRow(comp, block, name, tuple(int(s) for s in p.shape), int(p.numel()))
        keyed.append(((stage, -1 if block is None else block, COMPONENTS.index(comp), i), row))
    return [row for _, row in sorted(keyed, key=lambda kr: kr[0])]


def component_totals(rows: list[ParamRow]) -> dict[str, int]:
    """Parameters per component summed over blocks, in table order: {"patch embedding": 590592, ...}."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row.component] = totals.get(row.component, 0) + row.count
    return totals


def simplified_vit_terms(D: int = 768, L: int = 12, P: int = 16, C: int = 3, mlp_ratio: float = 4,
                         num_classes: int = 1000) -> list[tuple[str, int]]:
    """The seed's simplified ViT parameter count, term by term (defaults: ViT-B/16, ImageNet-1k head).

    It counts the weight matrices and the blocks' LayerNorms and nothing else: patch embedding P²·C·D;
    per block attention 4·D² (q, k, v and the output projection), MLP 2·r·D² (fc1 and fc2 with hidden width
    r·D) and two LayerNorms 2·2D (gamma and beta); classifier D·K. It leaves out every Linear/conv bias, the
    final LayerNorm, the CLS token and the whole position embedding (see `reconcile_vit_b`).
    """
    hidden = int(round(mlp_ratio * D))
    return [
        ("patch embedding weights P²·C·D", P * P * C * D),
        ("attention weights L·4D² (qkv 3D², projection D²)", L * 4 * D * D),
        ("MLP weights L·2·r·D² (fc1, fc2)", L * 2 * hidden * D),
        ("block LayerNorms L·2·2D (norm1, norm2: gamma, beta)", L * 4 * D),
        ("classifier weights D·K", D * num_classes),
    ]


def simplified_vit_count(D: int = 768, L: int = 12, P: int = 16, C: int = 3, mlp_ratio: float = 4,
                         num_classes: int = 1000) -> int:
    """P²CD + L(12D² + 4D) + DK for mlp_ratio 4: 589,824 + 12·7,080,960 + 768,000 = 86,329,344 for ViT-B/16."""
    return sum(n for _, n in simplified_vit_terms(D, L, P, C, mlp_ratio, num_classes))


# Parameters the simplified formula counts: (component, name suffix).
_IN_FORMULA = {("patch embedding", "proj.weight"), ("qkv", "qkv.weight"), ("attention projection", "proj.weight"),
               ("mlp fc1", "fc1.weight"), ("mlp fc2", "fc2.weight"), ("norm1", "weight"), ("norm1", "bias"),
               ("norm2", "weight"), ("norm2", "bias"), ("head", "head.weight")}
_LABELS = {("patch embedding", "bias"): "patch-embedding bias (D)", ("qkv", "bias"): "qkv biases (L·3D)",
           ("attention projection", "bias"): "attention projection biases (L·D)",
           ("mlp fc1", "bias"): "MLP fc1 biases (L·r·D)", ("mlp fc2", "bias"): "MLP fc2 biases (L·D)",
           ("final norm", "weight"): "final LayerNorm gamma, beta (2D)",
           ("final norm", "bias"): "final LayerNorm gamma, beta (2D)", ("head", "head.bias"): "head bias (K)",
           ("cls token", ""): "CLS token (D)", ("distillation token", ""): "distillation token (D)",
           ("register tokens", ""): "register tokens (R·D)"}


def vit_dimensions(module: nn.Module) -> dict:
    """D, L, P, C, mlp_ratio and num_classes of a timm ViT, as `simplified_vit_count` takes them."""
    pe = module.patch_embed
    ph, pw = (int(p) for p in pe.patch_size)
    hidden = int(module.blocks[0].mlp.fc2.in_features)  # MLP hidden width (fc1 may be packed, as in SwiGLU)
    D = int(module.embed_dim)
    head = getattr(module, "head", None)
    return dict(D=D, L=len(module.blocks), P=int(round((ph * pw) ** 0.5)), C=int(pe.proj.in_channels),
                mlp_ratio=hidden / D, num_classes=int(getattr(head, "out_features", 0) or 0))


def reconcile_vit_b(model) -> list[tuple[str, int]]:
    """Every parameter the simplified formula leaves out, as (what, count), summing to real - simplified.

    Works for any timm ViT laid out like ViT-B (the formula is evaluated with this model's D, L, P, C, r, K).
    For timm `vit_base_patch16_224` the terms are qkv biases 27,648, projection biases 9,216, fc1 biases
    36,864, fc2 biases 9,216, position patch rows 150,528, the CLS position row 768, CLS token 768,
    patch-embedding bias 768, final LayerNorm 1,536 and head bias 1,000: 238,312 = 86,567,656 - 86,329,344.
    Anything else the model has (layer scale, registers, ...) gets its own term; if the model's weight
    matrices differ from the formula's shapes, a final "formula vs weights" term says by how much.
    """
    module: nn.Module = getattr(model, "module", model)
    terms: dict[str, int] = {}
    in_formula = 0
    for row in parameter_table(module):
        if any(row.component == c and row.name.endswith(s) for c, s in _IN_FORMULA):
            in_formula += row.count
            continue
        if row.component == "position embedding":
            for label, n in _position_terms(module, row):
                terms[label] = terms.get(label, 0) + n
            continue
        generic = row.component + ": " + re.sub(r"blocks\.\d+\.", "blocks.*.", row.name)
        label = next((lab for (c, s), lab in _LABELS.items() if row.component == c and row.name.endswith(s)),
                     generic)
        terms[label] = terms.get(label, 0) + row.count
    mismatch = in_formula - simplified_vit_count(**vit_dimensions(module))
    if mismatch:
        terms["formula vs this model's weight shapes"] = mismatch
    return list(terms.items())


def _position_terms(module: nn.Module, row: ParamRow) -> list[tuple[str, int]]:
    D = row.shape[-1]
    gh, gw = (int(g) for g in module.patch_embed.grid_size)
    n_prefix = row.shape[-2] - gh * gw
    out = [(f"position embedding, patch rows (N·D, N = {gh * gw})", gh * gw * D)]
    if n_prefix == 1:
        out.append(("position embedding, CLS row (D)", D))
    elif n_prefix > 1:
        out.append((f"position embedding, {n_prefix} prefix rows ({n_prefix}·D)", n_prefix * D))
    return out


def patch_distances(layout: TokenLayout) -> np.ndarray:
    """Euclidean pixel distance between every pair of patch centres: (P, P) float64, P = gh*gw."""
    (gh, gw), (ph, pw) = layout.grid, layout.patch_size
    rows, cols = np.indices((gh, gw)).reshape(2, -1)
    centres = np.stack([(rows + 0.5) * ph, (cols + 0.5) * pw], axis=-1)  # (P, 2) pixels
    return np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=-1)


def mean_attention_distance(attn: torch.Tensor, layout: TokenLayout) -> np.ndarray:
    """Attention-weighted pixel distance between query and key patches, per layer and head (ViT Fig. 7 right).

    Prefix rows and columns (CLS, registers) are dropped and each patch query's row re-normalised to sum to
    1; then sum_k a[q, k] * dist(q, k) is averaged over queries and the batch. Uniform attention on a 14 x 14
    grid of 16 px patches gives 116.49 px, attention to oneself gives 0.

    Args:
        attn: (B, L, H, N, N) softmax attention, e.g. `attention.capture(model, images).attn`.
        layout: the token layout of that sequence.

    Returns:
        (L, H) float64 mean distance in input pixels.
    """
    attn = torch.as_tensor(attn)
    if attn.ndim != 5 or attn.shape[-1] != layout.num_tokens or attn.shape[-2] != layout.num_tokens:
        raise InputError(f"Expected attention shaped (B, L, H, {layout.num_tokens}, {layout.num_tokens}) for this "
                         f"layout; got {tuple(attn.shape)}.")
    p = layout.num_prefix_tokens
    dist = torch.from_numpy(patch_distances(layout))  # (P, P)
    out = np.zeros(attn.shape[1:3])
    for layer in range(attn.shape[1]):
        a = attn[:, layer, :, p:, p:].double()  # (B, H, P, P)
        a = a / a.sum(dim=-1, keepdim=True).clamp_min(1e-12)  # rows over patches only
        per_query = torch.einsum("bhqk,qk->bhq", a, dist)  # (B, H, P)
        out[layer] = per_query.mean(dim=(0, 2)).numpy()
    return out


LOCAL = 0.8  # a head whose mean distance is below 80% of the uniform reference attends more locally than uniform


def uniform_attention_distance(layout: TokenLayout) -> float:
    """The mean attention distance of uniform attention over this grid: the reference every head is read against.

    Uniform attention over an 8 x 8 grid of 8 px patches gives 33.09 px; over ViT-B/16's 14 x 14 grid, 116.49 px.
    Exactly what `mean_attention_distance` returns for attention spread evenly over the patches.
    """
    return float(patch_distances(layout).mean())


def describe_attention_distance(dist, uniform: float) -> str:
    """Sentences that say what the (L, H) mean attention distances show, measured against `uniform`.

    Names the heads clearly more local than uniform (below `LOCAL` x uniform) or says there are none, and how
    the mean over heads changes from the first layer to the last; never claims a pattern the numbers lack.
    """
    d = np.asarray(dist, dtype=np.float64)
    if d.ndim != 2 or d.size == 0 or uniform <= 0:
        raise InputError("describe_attention_distance needs (layers, heads) distances and a positive reference.")
    lo, hi = float(d.min()), float(d.max())
    text = (f"Uniform attention over this grid gives {uniform:.1f} px. These heads lie between {lo:.1f} and "
            f"{hi:.1f} px ({lo / uniform:.0%}–{hi / uniform:.0%} of uniform). ")
    local = [(int(layer), int(head)) for layer, head in zip(*np.nonzero(d < LOCAL * uniform))]
    if not local:
        text += (f"No head attends clearly more locally than uniform (below {LOCAL:.0%} of it): on these images "
                 "every head mixes information from the whole image about as much as uniform attention would.")
    else:
        layers = sorted({layer for layer, _ in local})
        text += (f"{len(local)} of {d.size} heads attend locally (below {LOCAL:.0%} of uniform), in "
                 f"layer{'s' * (len(layers) > 1)} {', '.join(map(str, layers))}.")
    first, last = d[0].mean(), d[-1].mean()
    if len(d) > 1:
        trend = ("grows" if last > first * 1.05 else "shrinks" if last < first * 0.95 else "stays about the same")
        text += f" The mean over heads {trend} from {first:.1f} px in layer 0 to {last:.1f} px in layer {len(d) - 1}."
    return text
