"""Inside a Transformer block: every intermediate of a ViT, computed by the model's own submodules, step by step.

`trace_block` runs one block of a timm ViT a submodule at a time with its own weights, so each tensor is the one the
model computes; `trace_input` is the embedding stage, `trace_head` the classifier stage. Papers: the ViT, Dosovitskiy
et al., "An Image is Worth 16x16 Words" (ICLR 2021); the block and its 1/sqrt(d_k) scale, Vaswani et al., "Attention
Is All You Need" (NeurIPS 2017); Pre-LN vs Post-LN gradients, Xiong et al., "On Layer Normalization in the
Transformer Architecture" (ICML 2020). May import: vizcore.models, vizcore.errors, vizcore.analysis.tokens.

Dimension letters: B images, N tokens (prefix + patches), L patches (blocks are "layers"), D width, h heads,
d = D / h per head, P patch side, C channels, K classes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models import vision_transformer as tv
from timm.models.deit import VisionTransformerDistilled

from vizcore.analysis.tokens import input_tokens, layer_index
from vizcore.errors import ModelError
from vizcore.models.layout import TokenLayout
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT

_SUPPORTED = ("The trace follows timm's pre-norm ViT (P x P stride-P patch conv; one fused qkv Linear, softmax "
              "attention, fc1 -> activation -> fc2; qk-norm and layer scale are applied). Pick e.g. bundled:tiny_vit.")
_POOLS = {"token": "the CLS token", "avg": "the mean of the patch tokens", "map": "attention pooling",
          "distilled": "the mean of the CLS and distillation tokens (each has its own head; logits averaged)"}


@dataclass(frozen=True)
class BlockTrace:
    """Every intermediate of block `layer`, in the block's order (float32, detached): x_in (B, N, D) enters;
    ln1 = norm1(x_in); qkv (B, N, 3D) the fused Linear's output; q, k, v (B, h, N, d) per head, q and k after
    q_norm / k_norm; scores (B, h, N, N) = (q x scale) k^T; attn = softmax(scores), row = query; context (B, N, D)
    attn @ v, heads concatenated; attn_out = ls1(proj(context)), what the residual adds; resid1 = x_in + attn_out;
    ln2 = norm2(resid1); fc1 (B, N, hidden); act after GELU; fc2 (B, N, D); x_out = resid1 + ls2(fc2). ln1_gamma,
    ln1_beta (D,): norm1's affine weights; image (B, C, H, W) in [0, 1]: what the model saw. Layer scale (ls1,
    ls2) and qk-norm are identities unless the flags say the block has them."""

    x_in: torch.Tensor
    ln1: torch.Tensor
    qkv: torch.Tensor
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    scores: torch.Tensor
    attn: torch.Tensor
    context: torch.Tensor
    attn_out: torch.Tensor
    resid1: torch.Tensor
    ln2: torch.Tensor
    fc1: torch.Tensor
    act: torch.Tensor
    fc2: torch.Tensor
    x_out: torch.Tensor
    ln1_gamma: torch.Tensor
    ln1_beta: torch.Tensor
    ln1_eps: float
    layer: int
    layout: TokenLayout
    image: torch.Tensor
    input_hw: tuple[int, int]
    scale: float
    num_heads: int
    head_dim: int
    qk_norm: bool
    layer_scale: bool


@dataclass(frozen=True)
class InputTrace:
    """The embedding stage. image (B, C, H, W) in [0, 1]; patches (B, L, C*P*P) each patch's normalised pixels in
    the conv weight's (channel, row, column) order; projected (B, L, D) the model's patch convolution;
    projected_matmul = patches @ W.T + b, W (D, C*P*P) the kernel as a matrix; pos_embed (L, D) the position rows
    added to the patches (for this grid); prefix (p, D) the CLS / distillation / register rows as they enter the
    sum (with their position rows if the family adds them); tokens (B, N, D) = [prefix; projected + pos_embed]."""

    image: torch.Tensor
    patches: torch.Tensor
    projected: torch.Tensor
    projected_matmul: torch.Tensor
    pos_embed: torch.Tensor
    prefix: torch.Tensor
    tokens: torch.Tensor
    layout: TokenLayout


@dataclass(frozen=True)
class HeadTrace:
    """The classifier stage. normed (B, N, D) the last block's output after the final norm; pooled (B, D)
    what the head reads (`pool` says how); logits (B, K); top per image: up to k (index, name, probability), empty
    without a classifier (then `logits` are the pooled features, as `handle.forward` returns)."""

    normed: torch.Tensor
    pooled: torch.Tensor
    logits: torch.Tensor
    pool: str
    top: tuple[tuple[tuple[int, str, float], ...], ...]


def _refuse(block: nn.Module, layer: int) -> None:
    """Raise ModelError naming what the step-by-step trace does not understand in `block`."""
    attn, mlp = getattr(block, "attn", None), getattr(block, "mlp", None)
    fused = isinstance(getattr(attn, "qkv", None), nn.Linear)
    bad = [what for failed, what in (
        (type(block).forward is not tv.Block.forward, f"a {type(block).__name__} block (not timm's pre-norm Block)"),
        (not fused, "attention without one fused qkv Linear (separate q/k/v projections)"),
        (fused and type(attn).forward is not tv.Attention.forward, f"an unknown attention {type(attn).__name__}"),
        (getattr(attn, "gate", None) is not None, "gated attention (a sigmoid gate on the attention output)"),
        (type(mlp).forward is not tv.Mlp.forward, f"a {type(mlp).__name__} MLP (e.g. SwiGLU, not fc1-act-fc2)"),
    ) if failed]
    if bad:
        raise ModelError(f"The step-by-step trace cannot follow block {layer}: it has {'; '.join(bad)}. {_SUPPORTED}")


def trace_block(model, images, *, layer: int, fit: str = "resize") -> BlockTrace:
    """Every intermediate of block `layer` (negative counts from the end): the model's own sequence enters, then each
    step runs the block's own submodule. ModelError names what the trace does not understand in a block."""
    layer = layer_index(layer, model.num_layers)
    block = model.module.blocks[layer]
    _refuse(block, layer)
    a, mlp, n1 = block.attn, block.mlp, block.norm1
    x = model.prepare(images, fit=fit)  # (B, C, H, W) in [0, 1]
    x_in = input_tokens(model, x) if layer == 0 else model.intermediates(x, [layer - 1])[0]  # (B, N, D)
    B, N, D = x_in.shape
    with model.lock, torch.inference_mode():  # eval mode: every dropout and drop-path is the identity
        t = {"x_in": x_in, "ln1": n1(x_in)}  # (B, N, D)
        t["qkv"] = a.qkv(t["ln1"])  # (B, N, 3hd)
        q, k, t["v"] = t["qkv"].reshape(B, N, 3, a.num_heads, a.head_dim).permute(2, 0, 3, 1, 4).unbind(0)  # (B,h,N,d)
        t["q"], t["k"] = a.q_norm(q), a.k_norm(k)
        t["scores"] = (t["q"] * a.scale) @ t["k"].transpose(-2, -1)  # (B, h, N, N), timm's eager order
        t["attn"] = a.attn_drop(t["scores"].softmax(dim=-1))  # (B, h, N, N)
        t["context"] = (t["attn"] @ t["v"]).transpose(1, 2).reshape(B, N, -1)  # (B, N, D)
        t["attn_out"] = block.drop_path1(block.ls1(a.proj_drop(a.proj(a.norm(t["context"])))))  # (B, N, D)
        t["resid1"] = x_in + t["attn_out"]
        t["ln2"] = block.norm2(t["resid1"])
        t["fc1"] = mlp.fc1(t["ln2"])  # (B, N, hidden)
        t["act"] = mlp.act(t["fc1"].clone())  # clones: activations and LayerScale may work in place
        t["fc2"] = mlp.drop2(mlp.fc2(mlp.norm(mlp.drop1(t["act"]))))  # (B, N, D)
        t["x_out"] = t["resid1"] + block.drop_path2(block.ls2(t["fc2"].clone()))
    return BlockTrace(
        **{k: v.detach().float() for k, v in t.items()}, ln1_eps=float(getattr(n1, "eps", 0.0)),
        ln1_gamma=torch.ones(D) if getattr(n1, "weight", None) is None else n1.weight.detach().float().clone(),
        ln1_beta=torch.zeros(D) if getattr(n1, "bias", None) is None else n1.bias.detach().float().clone(),
        layer=layer, layout=model.layout(tuple(x.shape[-2:])), image=x, input_hw=tuple(x.shape[-2:]),
        scale=float(a.scale), num_heads=int(a.num_heads), head_dim=int(a.head_dim),
        qk_norm=not isinstance(a.q_norm, nn.Identity), layer_scale=not isinstance(block.ls1, nn.Identity))


def trace_input(model, images, *, fit: str = "resize") -> InputTrace:
    """The embedding stage for `images`, from the model's own patch convolution and position rule: timm's
    `_pos_embed` (as in `input_tokens`) alone knows whether a family adds positions to the prefix tokens; run on
    zeros it gives exactly the rows it adds. ModelError if the patch embedding is not one stride-P P x P conv."""
    m = model.module
    conv = getattr(m.patch_embed, "proj", None)
    if not isinstance(m, tv.VisionTransformer) or not isinstance(conv, nn.Conv2d) or conv.kernel_size != conv.stride:
        raise ModelError(f"{type(m).__name__}'s patch embedding is not one P x P stride-P convolution. {_SUPPORTED}")
    x = model.prepare(images, fit=fit)  # (B, C, H, W) in [0, 1]
    layout = model.layout(tuple(x.shape[-2:]))
    (gh, gw), (ph, pw), p = layout.grid, layout.patch_size, layout.num_prefix_tokens
    with model.lock, torch.inference_mode():
        pixels = model.normalize(x)[..., :gh * ph, :gw * pw]
        B, C = pixels.shape[:2]
        patches = pixels.reshape(B, C, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5).reshape(B, gh * gw, -1)  # (B,L,CPP)
        weight = conv.weight.reshape(conv.out_channels, -1)  # (D, C*P*P), flattened (C, P, P) like `patches`
        bias = conv.bias if conv.bias is not None else weight.new_zeros(len(weight))
        matmul = m.patch_embed.norm(patches @ weight.T + bias)  # (B, L, D)
        embedded = m.patch_embed(pixels)  # (B, L, D), or (B, gh, gw, D) for dynamic-size models
        added = m._pos_embed(torch.zeros_like(embedded[:1]))[0]  # (N, D): [prefix (+ pos); pos]
        tokens = m.norm_pre(m.patch_drop(m._pos_embed(embedded)))  # (B, N, D)
    steps = (patches, embedded.reshape(B, gh * gw, -1), matmul, added[p:], added[:p], tokens)
    return InputTrace(x, *(t.float() for t in steps), layout)


def trace_head(model, images, *, fit: str = "resize", k: int = 5) -> HeadTrace:
    """Final norm -> pooled token -> logits and the top `k` classes, through the model's own norm and head."""
    m = model.module
    x = model.prepare(images, fit=fit)
    with model.lock, torch.inference_mode():
        normed = m.norm(model.intermediates(x, [-1])[0])  # (B, N, D) the last block's output, final norm
        pooled, logits = m.forward_head(normed, pre_logits=True), m.forward_head(normed)  # (B, D), (B, K)
    key = "distilled" if type(m).forward_head is VisionTransformerDistilled.forward_head else m.global_pool
    probs, idx = logits.float().softmax(-1).topk(min(k, logits.shape[-1]), dim=-1)  # (B, k)
    names = model.class_names or tuple(f"class {i}" for i in range(logits.shape[-1]))
    top = tuple(tuple((int(i), names[int(i)], float(p)) for i, p in zip(ir, pr)) if m.num_classes else ()
                for ir, pr in zip(idx, probs))  # no classifier: logits are features, nothing to rank
    return HeadTrace(normed.float(), pooled.float(), logits.float(), _POOLS.get(key, key), top)


def softmax_entropy(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Entropy in nats of softmax(scores) along `dim` (log N = uniform, 0 = one-hot), computed stably."""
    logp = F.log_softmax(scores.double(), dim=dim)
    return -(logp.exp() * logp).sum(dim).float()


@dataclass(frozen=True)
class GradNorms:
    """Per-block gradient norms at init: pre_ln, post_ln (L,) = ||dloss/dW|| over the block's qkv, proj, fc1 and fc2
    weights together, Pre-LN (timm's order) vs Post-LN (2017's); config: the settings; seconds: wall time."""

    pre_ln: np.ndarray
    post_ln: np.ndarray
    config: dict
    seconds: float


class PostLNBlock(nn.Module):
    """Post-LN (Vaswani et al. 2017) on a timm block's own weights: x = LN1(x + Attn(x)); x = LN2(x + MLP(x))."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) -> (B, N, D)
        x = self.block.norm1(x + self.block.attn(x))
        return self.block.norm2(x + self.block.mlp(x))


def _grad_norms(m: nn.Module, x: torch.Tensor, y: torch.Tensor, post: bool) -> np.ndarray:
    """(L,) gradient norm of each block's weight matrices for a cross-entropy loss on labels `y`."""
    t = torch.cat([m.cls_token.expand(len(x), -1, -1), m.patch_embed(x)], dim=1) + m.pos_embed  # (B, N, D)
    for b in m.blocks:
        t = PostLNBlock(b)(t) if post else b(t)
    logits = m.head((t if post else m.norm(t))[:, 0])  # Post-LN ends normalised: no final norm (as in 2017)
    weights = [m.get_parameter(f"blocks.{i}.{p}.weight") for i in range(len(m.blocks))
               for p in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2")]
    grads = torch.autograd.grad(F.cross_entropy(logits, y), weights)
    return torch.stack([g.square().sum() for g in grads]).reshape(len(m.blocks), -1).sum(1).sqrt().numpy()


def gradient_norms_pre_vs_post_ln(depth: int = 12, dim: int = 384, heads: int = 6, batch: int = 8, seed: int = 0,
                                  *, xavier: bool = True, img_size: int = 32, patch_size: int = 8) -> GradNorms:
    """Per-block weight-gradient norms at initialisation of one random ViT-S-sized model, Pre-LN vs Post-LN.

    Same weights and batch for both (normal pixels, random labels of 10 classes, cross-entropy); 32 px images,
    patch 8 (16 patches + CLS), so it runs in a few seconds on two CPU cores. `xavier`: Xavier-uniform Linears, zero
    biases (the original Transformer's, as Xiong et al. analyse); False keeps timm's trunc-normal (std 0.02).
    Measured (Xavier, seeds 0-4): Pre-LN's norms fall ~3x from block 0 to 11, Post-LN's stay flat within ~1.3x, so
    Post/Pre grows from ~0.65 to ~2.3 toward the output. Randomness comes from `seed` only (global RNG untouched).
    """
    start = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        m = tv.VisionTransformer(img_size=img_size, patch_size=patch_size, embed_dim=dim, depth=depth,
                                 num_heads=heads, num_classes=10).eval()
        for lin in (mod for mod in m.modules() if isinstance(mod, nn.Linear) and xavier):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        x, y = torch.randn(batch, 3, img_size, img_size), torch.randint(0, 10, (batch,))  # (B, C, H, W), (B,)
    with torch.enable_grad():
        pre, post = _grad_norms(m, x, y, post=False), _grad_norms(m, x, y, post=True)  # (L,) each
    return GradNorms(pre, post, dict(depth=depth, dim=dim, heads=heads, batch=batch, img_size=img_size,
                                     patch_size=patch_size, xavier=xavier, seed=seed), time.perf_counter() - start)


def seed_example_model(*, depth: int = 2, num_classes: int = 10, seed: int = 0) -> TimmViT:
    """The seed's worked example as a random-weight ViT: a 32 x 32 image, patch 16 -> 4 patches + CLS = 5 tokens,
    D = 128, h = 4 heads of d = 32 (MLP 512), `depth` blocks. Labelled "random weights" in its title."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = tv.VisionTransformer(32, 16, embed_dim=128, depth=depth, num_heads=4, num_classes=num_classes)
    info = ModelInfo("preset:seed_example", "Seed's worked example ViT (random weights)", "vit", pretrained=False,
                     description="32 x 32 image, 16 px patches: 4 patches + CLS = 5 tokens, D = 128, 4 heads of 32.")
    return TimmViT(module, info, Preprocess(size=(32, 32)))


@dataclass(frozen=True)
class SeedShape:
    """One row of the seed's shape walk: `notation` is the live shape written the seed's way ("[5 x 128]" for one
    image, "[B, 5, 384]" batched); `note` says where the seed's own text differs from the live shape."""

    step: str
    notation: str
    note: str = ""


def seed_shapes(model, images=None) -> list[SeedShape]:
    """The seed's shape walk (patches -> tokens -> qkv -> heads -> scores -> ... -> logits) from live traces of the
    input stage, block 0 and the head on `images` (default: one mid-grey image)."""
    images = torch.full((1, 3, *model.preprocess.size), 0.5) if images is None else images
    inp, blk, head = trace_input(model, images), trace_block(model, images, layer=0), trace_head(model, images)
    (L, F_), p = inp.patches.shape[1:], inp.layout.num_prefix_tokens
    rows = [("flattened patches (P*P*C each)", inp.patches), ("projected patches", inp.projected),
            ("tokens: + CLS, + position embedding", inp.tokens), ("fused qkv Linear", blk.qkv),
            ("q (k, v) per head", blk.q), ("scores q k^T / sqrt(d)", blk.scores), ("softmax attention", blk.attn),
            ("attention x V, heads concatenated", blk.context), ("output projection (+ layer scale)", blk.attn_out),
            ("MLP fc1", blk.fc1), ("MLP fc2", blk.fc2), ("block output", blk.x_out), ("pooled token", head.pooled),
            ("logits", head.logits)]
    note = (f"The seed writes [{L + p} x {F_}], but there are {L} patches; the {p} prefix token(s) join the sequence "
            f"only after the projection, giving {L + p} tokens.")
    sizes = [[str(n) for n in t.shape[1:]] for _, t in rows]  # the seed drops B for one image's patches and tokens
    return [SeedShape(step, "[" + (" x ".join(n) if i < 3 else ", ".join(["B", *n])) + "]", note if i == 0 else "")
            for i, ((step, _), n) in enumerate(zip(rows, sizes))]
