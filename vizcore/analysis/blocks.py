"""Live tensors inside a ViT encoder block: shapes step by step, the LayerNorm's effect, the residual stream.

The block is the pre-norm Transformer block of Vaswani et al. (2017) as used by ViT (Dosovitskiy et al. 2021):
x <- x + Attn(LN1(x)); x <- x + MLP(LN2(x)), with an exact-erf GELU (Hendrycks & Gimpel, 2016) in the MLP.
Tokens come from the one token path (`vizcore.analysis.tokens`, on timm's `forward_intermediates`); the
shapes inside a block from its exact step-by-step trace (`vizcore.analysis.trace`).

Dimension letters: B images, N tokens (prefix + patches), D width, h heads, d = D / h per head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from vizcore.analysis.tokens import input_tokens, layer_index, layer_tokens
from vizcore.analysis.trace import trace_block
from vizcore.errors import InputError


@dataclass(frozen=True)
class ShapeStep:
    """One stage of an encoder block.

    Attributes:
        name: stage, e.g. "qkv".
        shape: the live tensor shape, e.g. (1, 197, 2304).
        letters: the same shape in dimension letters, e.g. "(B, N, 3D)".
        explanation: what happens at this stage, in a sentence.
    """

    name: str
    shape: tuple[int, ...]
    letters: str
    explanation: str


def block_shapes(handle, images, block: int = 0, *, fit: str = "resize") -> list[ShapeStep]:
    """The live tensor shapes through encoder block `block` for `images`, read off the block's exact trace
    (`trace.trace_block`: the block's own submodules run step by step). The (3, B, h, N, d) head split is the
    fused qkv output reshaped and permuted exactly as timm's `Attention.forward` does.

    Raises:
        InputError: a block index the model does not have.
        ModelError: a block the trace does not understand (it names the feature).
    """
    n = handle.num_layers
    if not -n <= block < n:
        raise InputError(f"Block {block} does not exist; this model has blocks 0 to {n - 1}.")
    t = trace_block(handle, images, layer=block % n, fit=fit)
    shape = lambda x: tuple(x.shape)  # noqa: E731
    seen = {"input": shape(t.x_in), "norm1": shape(t.ln1), "qkv": shape(t.qkv), "scores": shape(t.attn),
            "proj": shape(t.attn_out), "residual": shape(t.resid1), "norm2": shape(t.ln2), "fc1": shape(t.fc1),
            "act": shape(t.act), "fc2": shape(t.fc2), "output": shape(t.x_out)}
    return _steps(seen, t.num_heads, t.head_dim)


def _steps(seen: dict[str, tuple[int, ...]], h: int, d: int) -> list[ShapeStep]:
    B, N, D = seen["input"]
    hidden = seen["fc1"][-1]
    mlp = f"{hidden // D}D" if hidden % D == 0 else "D_mlp"
    split = (3, B, h, N, d)
    rows = [
        ("block input", seen["input"], "(B, N, D)",
         "The residual stream: B images, N tokens (prefix tokens + patches), D features each."),
        ("norm1", seen["norm1"], "(B, N, D)", "LayerNorm: each token's D features get mean 0, variance 1, then "
         "a learned scale and shift. The shape does not change."),
        ("qkv", seen["qkv"], "(B, N, 3D)", "One Linear D -> 3D makes queries, keys and values for all heads."),
        ("split into heads", split, "(3, B, h, N, d)", f"Reshape to (B, N, 3, h, d) and permute: h = {h} heads of "
         f"d = {d} features (d = D / h); computed from the qkv shape, not hooked."),
        ("attention weights", seen["scores"], "(B, h, N, N)", "softmax(q kᵀ / √d) per head: row i says how "
         "token i mixes the N value vectors; each row sums to 1."),
        ("attention output", seen["proj"], "(B, N, D)", "Heads' mixed values concatenated back to h·d = D "
         "features and projected by a Linear D -> D."),
        ("residual 1", seen["residual"], "(B, N, D)", "Added to the block input (skip connection)."),
        ("norm2", seen["norm2"], "(B, N, D)", "LayerNorm before the MLP."),
        ("mlp fc1", seen["fc1"], f"(B, N, {mlp})", f"Linear D -> {mlp}: each token alone, widened to {hidden}."),
        ("GELU", seen.get("act", seen["fc1"]), f"(B, N, {mlp})", "x·Φ(x) element-wise: the only non-linearity "
         "besides the softmax."),
        ("mlp fc2", seen["fc2"], "(B, N, D)", f"Linear {mlp} -> D back to the stream's width."),
        ("block output", seen["output"], "(B, N, D)", "Added to residual 1: the next block's input."),
    ]
    return [ShapeStep(name, tuple(int(s) for s in shape), letters, text) for name, shape, letters, text in rows]


def activation_curves(x) -> dict[str, np.ndarray]:
    """GELU (exact, erf) and ReLU and their derivatives at `x`.

    GELU(x) = x·Φ(x), GELU'(x) = Φ(x) + x·φ(x) with Φ, φ the standard normal CDF and density;
    ReLU'(0) is taken as 0 (what autograd gives).

    Returns:
        {"x", "gelu", "relu", "gelu_grad", "relu_grad"}: float64 arrays shaped like `x`.
    """
    x = np.asarray(x, dtype=np.float64)
    cdf = 0.5 * (1.0 + np.vectorize(math.erf, otypes=[np.float64])(x / math.sqrt(2.0)))  # Φ(x)
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)  # φ(x)
    return {"x": x, "gelu": x * cdf, "relu": np.maximum(x, 0.0), "gelu_grad": cdf + x * pdf,
            "relu_grad": (x > 0).astype(np.float64)}


def _tokens_entering(handle, x: torch.Tensor, block: int) -> torch.Tensor:
    """The residual stream (B, N, D) that block `block` reads."""
    return input_tokens(handle, x) if block == 0 else layer_tokens(handle, x, [block - 1])[0]


def layernorm_effect(handle, images, block: int = 0, *, fit: str = "resize") -> tuple[np.ndarray, np.ndarray]:
    """Token features entering and leaving block `block`'s first LayerNorm (norm1), for histograms.

    Returns:
        before, after: (B, N, D) float32 each; `before` is the residual stream, `after` what attention reads.
    """
    index = layer_index(block, handle.num_layers)
    x = handle.prepare(images, fit=fit)  # (B, C, H, W)
    before = _tokens_entering(handle, x, index)  # (B, N, D)
    with handle.lock, torch.inference_mode():
        after = handle.module.blocks[index].norm1(before)  # (B, N, D)
    return before.float().numpy(), after.float().numpy()


def residual_norms(handle, images, *, fit: str = "resize", tokens: str = "all") -> np.ndarray:
    """Mean L2 norm of the residual stream: entry 0 is the embedded input (patches + prefix tokens + position
    embedding, what block 0 reads), entry i the output of block i - 1.

    Args:
        tokens: "all" tokens or only "patches" (prefix tokens such as registers can be much larger).

    Returns:
        (L + 1,) float64, averaged over tokens and images.
    """
    if tokens not in ("all", "patches"):
        raise InputError(f"Unknown token set '{tokens}'. Use 'all' or 'patches'.")
    x = handle.prepare(images, fit=fit)  # (B, C, H, W)
    stream = [input_tokens(handle, x)] + layer_tokens(handle, x, range(handle.num_layers))  # (L + 1) x (B, N, D)
    p = handle.layout(tuple(x.shape[-2:])).num_prefix_tokens if tokens == "patches" else 0
    return np.array([float(t[:, p:].double().norm(dim=-1).mean()) for t in stream])
