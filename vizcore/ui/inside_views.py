"""The "Inside a block" page's sections: the ViT computation step by step (1-9) on one image, the seed's shape walk,
Pre-LN vs Post-LN gradients at initialisation (on request) and the parameter formula term by term.

Every section draws from one cached trace (`cache.inside.inside_trace`); the head / query-token controls live inside
`st.fragment`s, so moving them redraws a few figures and never re-runs the model.
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st
import torch

from vizcore.analysis import anatomy
from vizcore.analysis.trace import softmax_entropy
from vizcore.errors import InputError
from vizcore.figures import inside as figs
from vizcore.ui.cache import inside as ic
from vizcore.ui.errors import inline_errors

# Rows of the formula table: (part, parameter-table components, index of its term in `simplified_vit_terms`).
_GROUPS = (
    ("patch embedding", ("patch embedding",), 0),
    ("position table", ("position embedding",), None),
    ("prefix tokens (CLS, distillation, registers)", ("cls token", "distillation token", "register tokens"), None),
    ("block LayerNorms (norm1, norm2)", ("norm1", "norm2"), 3),
    ("attention (qkv, projection)", ("qkv", "q/k norm", "attention norm", "attention projection",
                                     "relative position bias"), 1),
    ("layer scale", ("layer scale",), None),
    ("MLP (fc1, fc2)", ("mlp fc1", "mlp norm", "mlp fc2"), 2),
    ("final / pre norm", ("final norm", "pre-norm"), None),
    ("classifier head", ("head",), 4),
    ("other", ("other",), None),
)


def shape(t: torch.Tensor) -> str:
    """A live shape in the seed's notation, batch first: "[B, 65, 128]"."""
    return "[" + ", ".join(["B", *(str(n) for n in t.shape[1:])]) + "]"


def show(fig, random: bool, where=None) -> None:
    """Draw a figure; with random weights its title says so first (a long title may be cut at the right)."""
    if random:
        fig.layout.title.text = "Random weights · " + (fig.layout.title.text or "")
    (where or st).plotly_chart(fig, width="stretch")


def _clamped_index(key: str, n: int, default: int = 0) -> None:
    """Start a widget at `default`, and reset a remembered index that no longer exists (another model has fewer
    blocks, heads or tokens)."""
    value = st.session_state.get(key)
    if not isinstance(value, int) or not 0 <= value < n:
        st.session_state[key] = min(default, n - 1)


def summary(handle, t: ic.InsideTrace, image_name: str, is_seed: bool) -> None:
    lay, block0, D = t.inp.layout, handle.module.blocks[0], t.inp.tokens.shape[-1]
    heads = int(getattr(block0.attn, "num_heads", 0))
    st.markdown(f"**{handle.info.title}** on **{image_name}**: {t.inp.image.shape[-2]} x {t.inp.image.shape[-1]} px, "
                f"{lay.num_patches} patches of {lay.patch_size[0]} x {lay.patch_size[1]} + {lay.num_prefix_tokens} "
                f"prefix token(s) = N = {lay.num_tokens} tokens of D = {D}; {handle.num_layers} blocks"
                + (f" of {heads} heads (d = {D // heads})" if heads else "") + ". B = 1 image here.")
    if not handle.info.pretrained:
        st.warning("Random weights: every number below is exactly what this untrained network computes, so the "
                   "shapes and the arithmetic are real, but no pattern in them is learned.")
    if is_seed:
        st.info("The seed's worked example, built live: a 32 x 32 image cut into 16 px patches gives 4 patches, "
                "each flattened to 16·16·3 = 768 numbers, so the flattened patches are [4 x 768], not [5 x 768] as "
                "the seed writes: the CLS token joins the sequence only after the projection, making 5 tokens.")


# ---- steps 1-3: the embedding stage -------------------------------------------------------------------------------

@st.fragment
def patches(t: ic.InsideTrace, random: bool) -> None:
    inp, lay = t.inp, t.inp.layout
    (gh, gw), (ph, pw) = lay.grid, lay.patch_size
    st.header("From pixels to tokens")
    st.subheader("1 · The image cut into patches")
    busiest = int(inp.patches[0].reshape(lay.num_patches, inp.image.shape[1], -1).var(-1).sum(-1).argmax())
    _clamped_index("in_patch", lay.num_patches, busiest)  # first the patch with the most texture in any channel
    pick = st.columns(3)[0].selectbox("Patch to flatten", range(lay.num_patches), key="in_patch",
                                      format_func=lambda i: lay.token_name(i + lay.num_prefix_tokens))
    st.caption(f"image {shape(inp.image)} → {gh} x {gw} = {lay.num_patches} patches of {ph} x {pw} px → "
               f"flattened patches {shape(inp.patches)}: each patch is {ph}·{pw}·{inp.image.shape[1]} = "
               f"{inp.patches.shape[-1]} numbers (pixels after the model's mean/std normalisation).")
    show(figs.patch_grid_figure(inp, patch=pick), random)


def embedding(t: ic.InsideTrace, random: bool) -> None:
    inp, lay = t.inp, t.inp.layout
    L, F_, D = *inp.patches.shape[1:], inp.projected.shape[-1]
    diff = float((inp.projected - inp.projected_matmul).abs().max())
    st.subheader("2 · Patch embedding: a convolution that is a matrix product")
    st.caption(f"patches {shape(inp.patches)} @ Wᵀ [{F_} x {D}] + b [{D}] → projected patches "
               f"{shape(inp.projected)}. The model runs a {lay.patch_size[0]} x {lay.patch_size[1]} convolution "
               f"with stride {lay.patch_size[0]}; reshaping its kernel [{D}, {inp.image.shape[1]}, "
               f"{lay.patch_size[0]}, {lay.patch_size[1]}] into W [{D} x {F_}] gives the same {L * D:,} numbers "
               f"(largest difference {diff:.2g}, float rounding).")
    show(figs.patch_embedding_figure(inp), random)
    st.subheader("3 · Position embeddings added, prefix tokens prepended")
    p = lay.num_prefix_tokens
    st.caption(f"projected {shape(inp.projected)} + position table [{L}, {D}] → prepend "
               f"{', '.join(lay.prefix_names) or 'no prefix tokens'} [{p}, {D}] → tokens entering block 0 "
               f"{shape(inp.tokens)}: N = {L} patches + {p} prefix = {lay.num_tokens}. The prefix tokens join "
               f"after the projection, so the flattened patches are {L}, not {lay.num_tokens}.")
    show(figs.token_sequence_figure(inp), random)


# ---- steps 4-8: one block, for the chosen head and query token ------------------------------------------------------

@st.fragment
def block(choice, picked, num_layers: int, random: bool) -> None:
    """Steps 4-8 for the chosen block, head and query token: its own controls and its own cached call, so moving
    them re-runs one block (or nothing) and redraws only this part of the page."""
    st.header("Inside one block")
    c1, c2, c3 = st.columns(3)
    _clamped_index("in_layer", num_layers)
    layer = c1.selectbox("Block", range(num_layers), key="in_layer", format_func=lambda i: f"block {i}")
    with inline_errors():  # a fragment re-run is outside the page's own error handling
        blk = ic.block_trace(choice.spec, choice.pretrained, picked.key, picked.image, layer)
    lay = blk.layout
    _clamped_index("in_head", blk.num_heads)
    _clamped_index("in_query", lay.num_tokens)
    head = c2.selectbox("Head", range(blk.num_heads), key="in_head", format_func=lambda h: f"head {h}")
    query = c3.selectbox("Query token (also the token of steps 4 and 8)", range(lay.num_tokens), key="in_query",
                         format_func=lay.token_name)
    _layernorm(blk, query, random)
    _qkv(blk, head, random)
    _attention(blk, head, query, random)
    _residual(blk, query, random)
    _mlp(blk, query, random)


def _layernorm(blk, query: int, random: bool) -> None:
    x = blk.x_in[0, query].double()
    st.subheader("4 · LayerNorm (pre-norm): each token normalised over its own features")
    st.caption(f"x_in {shape(blk.x_in)} → norm1 → {shape(blk.ln1)}: for {blk.layout.token_name(query)}, mean "
               f"{float(x.mean()):.3g} and variance {float(x.var(unbiased=False)):.3g} over its {x.numel()} features "
               f"become 0 and 1 (ε = {blk.ln1_eps:g}), then × gamma [{blk.ln1_gamma.numel()}] + beta "
               f"[{blk.ln1_beta.numel()}]. LayerNorm keeps a mean and variance per token ([B, {blk.x_in.shape[1]}]); "
               f"BatchNorm on this same tensor would keep one per feature, over the batch axis "
               f"([{blk.x_in.shape[-1]}], over B x N = {blk.x_in.shape[0]} x {blk.x_in.shape[1]}).")
    show(figs.layernorm_figure(blk, token=query), random)


def _qkv(blk, head: int, random: bool) -> None:
    B, N, three_d = blk.qkv.shape
    st.subheader("5 · Queries, keys and values: one fused Linear, reshaped per head")
    st.caption(f"ln1 {shape(blk.ln1)} → qkv Linear → {shape(blk.qkv)} → reshape [B, {N}, 3, {blk.num_heads}, "
               f"{blk.head_dim}] → permute → q, k, v each {shape(blk.q)} (B, heads, tokens, d): the seed's 4-rank "
               f"tensor with the real sizes. Shown: head {head}'s slice [{N} x {blk.head_dim}] of each."
               + (" q and k pass through the block's qk-norm." if blk.qk_norm else ""))
    show(figs.qkv_figure(blk, head=head), random)


def _attention(blk, head: int, query: int, random: bool) -> None:
    lay = blk.layout
    row = blk.attn[0, head, query]  # (N,)
    top = int(row.argmax())
    scaled = blk.scores[0, head, query]
    ent, raw = float(softmax_entropy(scaled)), float(softmax_entropy(scaled / blk.scale))
    st.subheader("6 · Scores, scale, softmax: where the query looks")
    st.caption(f"scores {shape(blk.scores)} = q kᵀ × 1/√d = 1/√{blk.head_dim} = {blk.scale:.4g}; softmax over the "
               f"keys → attention {shape(blk.attn)}. Row of {lay.token_name(query)} (head {head}): largest weight "
               f"{float(row[top]):.4f} on {lay.token_name(top)}; softmax entropy {ent:.3f} nats with the scale, "
               f"{raw:.3f} without (uniform: log {lay.num_tokens} = {math.log(lay.num_tokens):.3f}).")
    left, right = st.columns([1, 1])
    show(figs.score_steps_figure(blk, head=head, query=query), random, left)
    show(figs.attention_row_figure(blk, head=head, query=query), random, right)
    show(figs.scale_entropy_figure(blk, head=head, query=query), random)


def _residual(blk, query: int, random: bool) -> None:
    n = {k: float(getattr(blk, k)[0, query].norm()) for k in ("x_in", "context", "attn_out", "resid1")}
    st.subheader("7 · Attention × V, heads concatenated, output projection, residual add")
    st.caption(f"attention {shape(blk.attn)} @ v {shape(blk.v)} → [B, {blk.num_heads}, {blk.attn.shape[-1]}, "
               f"{blk.head_dim}] → heads concatenated {shape(blk.context)} → proj"
               + (" (+ layer scale)" if blk.layer_scale else "") + f" {shape(blk.attn_out)} → resid1 = x_in + "
               f"attention {shape(blk.resid1)}. For {blk.layout.token_name(query)}: ‖x_in‖ = {n['x_in']:.3g}, "
               f"‖context‖ = {n['context']:.3g}, ‖attention update‖ = {n['attn_out']:.3g}, ‖resid1‖ = "
               f"{n['resid1']:.3g}.")
    show(figs.residual_figure(blk), random)


def _mlp(blk, query: int, random: bool) -> None:
    pre = blk.fc1[0, query]
    st.subheader("8 · LN2 → MLP: fc1 → GELU → fc2 → residual")
    st.caption(f"resid1 {shape(blk.resid1)} → norm2 {shape(blk.ln2)} → fc1 {shape(blk.fc1)} "
               f"({blk.fc1.shape[-1] / blk.x_in.shape[-1]:g}·D) → GELU {shape(blk.act)} → fc2 {shape(blk.fc2)} → "
               f"x_out = resid1 + MLP {shape(blk.x_out)}. {blk.layout.token_name(query)}: "
               f"{int((pre < 0).sum())} of {pre.numel()} pre-activations negative; ‖x_out‖ = "
               f"{float(blk.x_out[0, query].norm()):.3g}.")
    show(figs.mlp_figure(blk, token=query), random)


# ---- step 9 and the seed's numbers -----------------------------------------------------------------------------------

def head(t: ic.InsideTrace, handle, random: bool) -> None:
    h = t.head
    st.header("After the last block")
    st.subheader("9 · Final norm → pooled token → head → top 5")
    st.caption(f"block {handle.num_layers - 1}'s output → final norm {shape(h.normed)} → {h.pool} {shape(h.pooled)} "
               f"→ head → logits {shape(h.logits)} → softmax.")
    try:
        show(figs.top_classes_figure(h), random)
    except InputError as e:
        st.info(str(e))


def shape_walk(t: ic.InsideTrace, is_seed: bool) -> None:
    st.header("The seed's shape walk, live")
    rows = [{"step": s.step, "shape (live)": s.notation} for s in t.shapes]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", height=_rows_height(len(rows)))
    lay = t.inp.layout
    note = (" ".join(s.note for s in t.shapes if s.note) + " This is the seed's worked example: D = 128, 4 heads of "
            "32, MLP 512.") if is_seed else (
        f"The {lay.num_prefix_tokens} prefix token(s) join after the projection: {lay.num_patches} flattened "
        f"patches, {lay.num_tokens} tokens. Pick \"Seed's worked example\" as the model to see the seed's own sizes.")
    st.caption("Every shape read from the tensors of this model on this image (block 0 for the block's steps). "
               + note)


@st.fragment
def pre_post_ln() -> None:
    st.header("Pre-LN vs Post-LN: gradient norms at initialisation")
    st.caption("A randomly initialised 12-block ViT-S-sized model (D = 384, 6 heads; 32 px images, patch 8, "
               "batch 8, random labels), the same weights run both ways: Pre-LN x + f(LN(x)) as in ViT, and Post-LN "
               "LN(x + f(x)) as in the 2017 Transformer. Xiong et al. (2020) show Post-LN's gradients are large "
               "near the output at initialisation, which is why it needs a learning-rate warm-up.")
    c1, c2 = st.columns([1, 3])
    seed = int(c1.number_input("Random seed (weights, batch)", 0, 99, 0, key="in_gn_seed"))
    if not c2.toggle("Measure the gradients (a few seconds; kept for this seed)", key="in_gn_on"):
        return
    g = ic.grad_norms(seed)
    pre, post = g.pre_ln, g.post_ln
    ratio = post / pre
    show(figs.grad_norms_figure(g), False)
    st.dataframe(pd.DataFrame({"block": range(len(pre)), "Pre-LN ‖∂loss/∂W‖": pre, "Post-LN ‖∂loss/∂W‖": post,
                               "Post / Pre": ratio}), hide_index=True, width="stretch",
                 height=_rows_height(len(pre)))
    grows = post[-1] > post[0]
    st.markdown(
        f"**Measured now** (random seed {seed}, {g.seconds:.1f} s): Pre-LN's gradient norm falls "
        f"{pre[0] / pre[-1]:.1f}x from block 0 to block {len(pre) - 1}; Post-LN's stays within "
        f"{post.max() / post.min():.2f}x of flat, so Post/Pre rises from {ratio[0]:.2f} to {ratio[-1]:.2f} toward the "
        f"output. The seed says Post-LN's gradients grow toward the output: here its last block's norm is "
        f"{post[-1] / post[0]:.2f}x its first block's ({'larger' if grows else 'not larger'}). Over random seeds 0-5 "
        "(measured when this page was written) that ratio went from 0.84x to 1.17x, so the claim holds only for some "
        "initialisations. What held for all six is the relative picture: Pre-LN's norms fall 3.0-3.9x toward the "
        "output while Post-LN's stay within 1.23x, so near the output Post-LN's gradients are 2.1-2.3x Pre-LN's.")


def _rows_height(n: int) -> int:
    """A dataframe height that shows `n` rows and the header without scrolling."""
    return 35 * (n + 1) + 3


def _table(rows: list[dict]) -> None:
    """The formula table, counts with thousands separators (as the text writes them)."""
    shown = [{k: f"{v:,}" if isinstance(v, int) else v for k, v in r.items()} for r in rows]
    st.dataframe(pd.DataFrame(shown), hide_index=True, width="stretch", height=_rows_height(len(rows)))


def _formula_rows(module) -> list[dict]:
    """The simplified formula's terms beside the model's real parameters, part by part (totals last)."""
    terms = anatomy.simplified_vit_terms(**anatomy.vit_dimensions(module))
    real = anatomy.component_totals(anatomy.parameter_table(module))
    rows = []
    for part, comps, term in _GROUPS:
        n_real = sum(real.get(c, 0) for c in comps)
        label, n_formula = terms[term] if term is not None else ("(not in the formula)", 0)
        if n_real or n_formula:
            rows.append({"part": part, "formula term": label, "formula": n_formula, "real": n_real,
                         "real − formula": n_real - n_formula})
    rows.append({"part": "total", "formula term": "", "formula": sum(r["formula"] for r in rows),
                 "real": sum(r["real"] for r in rows), "real − formula": sum(r["real − formula"] for r in rows)})
    return rows


def parameter_formula(handle) -> None:
    st.header("The parameter formula, term by term")
    vit_b = ic.reference_vit_b()
    rows = _formula_rows(vit_b)
    total = rows[-1]
    d = anatomy.vit_dimensions(vit_b)
    D, L, P, C = d["D"], d["L"], d["P"], d["C"]
    N = vit_b.pos_embed.shape[1]
    st.markdown(
        f"For ViT-B/16 (timm's `vit_base_patch16_224`, D = {D}, L = {L} blocks, P = {P}, C = {C}, N = {N}): the "
        f"formula P·P·C·D + L·(4D² + 8D² + 4D) + D·K gives **{total['formula']:,}**; the model really has "
        f"**{total['real']:,}**.")
    _table(rows)
    st.markdown(
        f"**The seed's two mislabelled terms.** The seed lists the patch-embedding weights as \"(patch size x 3) x "
        f"D\" and the position table as \"N x D\", but computes them as 3·{P}·{D} = {C * P * D:,} and {P * P * C} x "
        f"{D} = {P * P * C * D:,}. The true terms are P·P·C·D = {P * P * C} x {D} = **{P * P * C * D:,}** (the patch "
        f"projection) and N·D = {N} x {D} = **{N * D:,}** (the position table). Its {C * P * D:,} happens to equal "
        f"L·4D = {L} x 4 x {D} = {L * 4 * D:,}, the blocks' LayerNorm weights and biases, and its {P * P * C * D:,} "
        f"is the patch projection; that is why its total, {total['formula']:,}, is the formula's and can be "
        f"reconciled with the real {total['real']:,} at all: the {total['real − formula']:,} left are the biases, "
        f"the position table, the CLS token and the final norm (last column).")
    if handle.module is not vit_b:
        with st.expander(f"The same count for {handle.info.title}"):
            _table(_formula_rows(handle.module))
