"""The step-by-step trace of a ViT equals the model's own computation, refuses what it cannot follow, and draws.

Parity: every block's `x_out` equals `intermediates` (<= 1e-5), its `attn` equals `attention.capture`, the input
stage equals `input_tokens` and splits into [prefix; projected + positions], the head equals `handle.forward`;
on tiny random timm ViTs with 0, 1, 2 (DeiT distilled) and 5 (CLS + 4 registers) prefix tokens, layer scale,
qk-norm and `no_embed_class`, on the bundled tiny ViT and MAE encoder, and on converted Hugging Face models.
Every parameter is given a distinct random value first, so an identity-initialised LayerNorm, layer scale or
qk-norm cannot hide a step the trace skipped.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn as nn
from timm.layers import SwiGLUPacked
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import ResPostBlock, VisionTransformer

import vizcore as vc
from vizcore.analysis import attention, trace
from vizcore.analysis.tokens import input_tokens
from vizcore.errors import InputError, ModelError
from vizcore.figures import inside
from vizcore.models.protocols import ModelInfo, Preprocess
from vizcore.models.vit import TimmViT

TOL = 1e-5
SMALL = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5, dynamic_img_size=True)
TINY = {  # name: (class, extra kwargs, prefix tokens)
    "cls": (VisionTransformer, {}, 1),
    "avg-no-prefix": (VisionTransformer, dict(class_token=False, global_pool="avg"), 0),
    "distilled": (VisionTransformerDistilled, {}, 2),
    "cls+4-registers": (VisionTransformer, dict(reg_tokens=4), 5),
    "registers-no-embed-class": (VisionTransformer, dict(reg_tokens=4, no_embed_class=True), 5),
    "layer-scale": (VisionTransformer, dict(init_values=1e-5), 1),
    "qk-norm": (VisionTransformer, dict(qk_norm=True), 1),
}


def _scramble(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter a distinct random value (norm weights around 1) so no step is an identity."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=gen) * 0.3
            param.copy_(noise + 1.0 if name.endswith(("norm1.weight", "norm2.weight", "norm.weight", "gamma"))
                        else noise)
    return module.eval()


def _handle(module: nn.Module, size=(32, 32), names=None) -> TimmViT:
    info = ModelInfo("test:tiny", "tiny (random weights)", "vit", pretrained=False)
    return TimmViT(module, info, Preprocess(size=size, dynamic_size=True), names)


def _tiny(kind: str) -> TimmViT:
    cls, extra, _ = TINY[kind]
    torch.manual_seed(0)
    return _handle(_scramble(cls(**SMALL, **extra)))


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(2, 3, 40, 56, generator=torch.Generator().manual_seed(3))  # keep_aspect: a 4 x 6 grid


def _assert_exact(handle, images, fit: str = "keep_aspect") -> None:
    """Every block, the input stage and the head of `handle` equal the model's own computation."""
    x = handle.prepare(images, fit=fit)
    maps = attention.capture(handle, images, fit=fit)
    for layer in range(handle.num_layers):
        t = trace.trace_block(handle, images, layer=layer, fit=fit)
        real = handle.intermediates(x, [layer])[0]
        assert (t.x_out - real).abs().max() <= TOL
        assert (t.attn - maps.attn[:, layer]).abs().max() <= 1e-6
        assert torch.allclose(t.attn.sum(-1), torch.ones(()), atol=1e-5)
        B, N, D = t.x_in.shape
        h, d = t.num_heads, t.head_dim
        assert t.q.shape == t.k.shape == t.v.shape == (B, h, N, d) and t.scores.shape == t.attn.shape == (B, h, N, N)
        assert t.qkv.shape == (B, N, 3 * h * d) and t.context.shape == (B, N, h * d)
        assert torch.allclose(t.resid1, t.x_in + t.attn_out) and t.layout.num_tokens == N
    inp = trace.trace_input(handle, images, fit=fit)
    assert (inp.tokens - input_tokens(handle, x)).abs().max() <= TOL
    p = inp.layout.num_prefix_tokens
    assembled = torch.cat([inp.prefix.expand(len(x), -1, -1), inp.projected + inp.pos_embed], dim=1)
    assert (assembled - inp.tokens).abs().max() <= TOL  # tokens = [prefix; projected + positions]
    assert inp.prefix.shape[0] == p and inp.pos_embed.shape[0] == inp.layout.num_patches
    assert (inp.projected_matmul - inp.projected).abs().max() <= TOL
    head = trace.trace_head(handle, images, fit=fit)
    assert (head.logits - handle.forward(x)).abs().max() <= TOL


@pytest.mark.parametrize("kind", list(TINY))
def test_trace_equals_the_model(kind, images):
    handle = _tiny(kind)
    assert handle.layout((32, 48)).num_prefix_tokens == TINY[kind][2]
    _assert_exact(handle, images)
    t = trace.trace_block(handle, images, layer=-1)
    assert t.layer == 1
    assert t.qk_norm == (kind == "qk-norm") and t.layer_scale == (kind == "layer-scale")


@pytest.mark.parametrize("spec", ["bundled:tiny_vit", "bundled:tiny_mae"])
def test_trace_equals_the_bundled_models(spec):
    handle = vc.load_model(spec)
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    _assert_exact(handle, images, fit="resize")


@pytest.mark.parametrize("case", ["Dinov2WithRegisters", "DeiTForImageClassificationWithTeacher"])
def test_trace_equals_converted_hugging_face_models(case, tmp_path, images):
    T = pytest.importorskip("transformers")
    from vizcore.models.hf_transformers import load_transformers_folder

    family = case.replace("ForImageClassificationWithTeacher", "")
    config = getattr(T, f"{family}Config")(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                           num_attention_heads=2, intermediate_size=64, num_labels=3,
                                           **({"num_register_tokens": 4} if "Registers" in case else {}))
    model = getattr(T, case if "Teacher" in case else f"{case}Model")._from_config(config, attn_implementation="eager")
    _scramble(model)
    model.save_pretrained(tmp_path)
    loaded = load_transformers_folder(tmp_path)
    handle = TimmViT(loaded.module, ModelInfo("file:hf", "hf", "vit"),
                     Preprocess(size=loaded.image_size, mean=loaded.mean, std=loaded.std, dynamic_size=True))
    assert handle.layout(loaded.image_size).num_prefix_tokens == (5 if "Registers" in case else 2)
    _assert_exact(handle, images)


def test_flattened_patches_times_the_conv_weight_is_the_conv():
    handle = _tiny("cls")
    img = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    inp = trace.trace_input(handle, img)
    conv = handle.module.patch_embed.proj
    W = conv.weight.detach().reshape(conv.out_channels, -1)  # (D, C*P*P)
    assert inp.patches.shape == (1, 16, 3 * 8 * 8)
    assert ((inp.patches @ W.T + conv.bias.detach()) - inp.projected).abs().max() <= TOL
    pixels = handle.normalize(handle.prepare(img))  # (1, C, H, W), what the convolution sees
    assert torch.equal(inp.patches[0, 1], pixels[0, :, 0:8, 8:16].reshape(-1))  # patch (0, 1): channel, row, column


def test_unsupported_blocks_are_refused_by_name():
    torch.manual_seed(0)
    swiglu = _handle(VisionTransformer(**SMALL, mlp_layer=SwiGLUPacked, act_layer=nn.SiLU, mlp_ratio=2.0))
    with pytest.raises(ModelError, match="SwiGLU"):
        trace.trace_block(swiglu, torch.rand(1, 3, 32, 32), layer=0)
    post = _handle(VisionTransformer(**SMALL, block_fn=ResPostBlock))
    with pytest.raises(ModelError, match="ResPostBlock"):
        trace.trace_block(post, torch.rand(1, 3, 32, 32), layer=0)
    split = _tiny("cls")
    del split.module.blocks[1].attn.qkv  # an attention with separate q/k/v projections instead
    split.module.blocks[1].attn.q_proj = nn.Linear(32, 32)
    with pytest.raises(ModelError, match="separate q/k/v") as err:
        trace.trace_block(split, torch.rand(1, 3, 32, 32), layer=1)
    assert "block 1" in str(err.value) and "bundled:tiny_vit" in str(err.value)
    with pytest.raises(InputError):
        trace.trace_block(_tiny("cls"), torch.rand(1, 3, 32, 32), layer=2)
    overlapping = _tiny("cls")
    overlapping.module.patch_embed.proj = nn.Conv2d(3, 32, kernel_size=8, stride=4)  # overlapping patches
    with pytest.raises(ModelError, match="stride-P"):
        trace.trace_input(overlapping, torch.rand(1, 3, 32, 32))


def test_the_seed_example_has_the_seed_shapes():
    handle = trace.seed_example_model()
    assert "random weights" in handle.info.title and not handle.info.pretrained
    assert handle.layout((32, 32)).num_tokens == 5
    rows = trace.seed_shapes(handle)
    assert [r.notation for r in rows] == [
        "[4 x 768]", "[4 x 128]", "[5 x 128]", "[B, 5, 384]", "[B, 4, 5, 32]", "[B, 4, 5, 5]", "[B, 4, 5, 5]",
        "[B, 5, 128]", "[B, 5, 128]", "[B, 5, 512]", "[B, 5, 128]", "[B, 5, 128]", "[B, 128]", "[B, 10]"]
    assert "[5 x 768]" in rows[0].note  # the seed's own text counts the CLS token among the flattened patches
    assert all(r.note == "" for r in rows[1:])


def test_softmax_entropy():
    assert trace.softmax_entropy(torch.zeros(7)).item() == pytest.approx(math.log(7), abs=1e-6)
    assert trace.softmax_entropy(torch.tensor([100.0, 0.0, 0.0])).item() == pytest.approx(0.0, abs=1e-6)
    t = trace.trace_block(_tiny("cls"), torch.rand(1, 3, 32, 32), layer=0)
    with_scale, without = trace.softmax_entropy(t.scores), trace.softmax_entropy(t.scores / t.scale)
    assert with_scale.shape == t.scores.shape[:-1] and (with_scale <= math.log(t.layout.num_tokens) + 1e-5).all()
    assert with_scale.mean() > without.mean()  # dividing by sqrt(d) keeps the softmax softer


@pytest.fixture(scope="module")
def grads() -> trace.GradNorms:
    return trace.gradient_norms_pre_vs_post_ln()


def test_pre_ln_vs_post_ln_gradients_at_init(grads):
    assert grads.pre_ln.shape == grads.post_ln.shape == (12,)
    assert np.isfinite(grads.pre_ln).all() and (grads.pre_ln > 0).all() and (grads.post_ln > 0).all()
    # Measured (Xavier init, seeds 0-4): Pre-LN's gradients fall ~3x toward the output, Post-LN's stay flat (its
    # last block beats its first for some seeds only, so that is not asserted); relative to Pre-LN, Post-LN's
    # gradients sit toward the output.
    assert grads.pre_ln[-1] < grads.pre_ln[0] / 2 and np.all(np.diff(grads.pre_ln) < 0)
    assert grads.post_ln.max() / grads.post_ln.min() < 1.5
    ratio = grads.post_ln / grads.pre_ln
    assert ratio[-1] > 2 * ratio[0] and ratio[-1] > 1 > ratio[0]
    assert grads.config["depth"] == 12 and grads.config["dim"] == 384


def _assert_drawn(fig: go.Figure) -> None:
    assert isinstance(fig, go.Figure) and fig.layout.title.text.strip()
    axes = [fig.layout[k] for k in fig.layout if k.startswith(("xaxis", "yaxis"))]
    shown = [a for a in axes if a.showticklabels is not False and a.matches is None]  # not an image, not shared
    assert shown or any(isinstance(t, go.Image) for t in fig.data)
    assert all(a.title.text for a in shown), [a.plotly_name for a in shown if not a.title.text]
    bars = [t.colorbar for t in fig.data if isinstance(t, go.Heatmap) and t.coloraxis is None]
    bars += [fig.layout.coloraxis.colorbar] if fig.layout.coloraxis.colorscale else []
    assert all(bar.title.text for bar in bars)
    assert "#000004" not in str(fig.to_plotly_json())  # no inferno / magma: Streamlit's theme rewrites that stop


def test_every_inside_figure_has_a_title_and_axis_titles(grads):
    handle = vc.load_model("bundled:tiny_vit")
    images = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    inp, blk = trace.trace_input(handle, images), trace.trace_block(handle, images, layer=1)
    figs = [inside.patch_grid_figure(inp, patch=9), inside.patch_embedding_figure(inp),
            inside.token_sequence_figure(inp), inside.layernorm_figure(blk, token=3), inside.qkv_figure(blk, head=1),
            inside.score_steps_figure(blk, head=1, query=0), inside.attention_row_figure(blk, head=0, query=12),
            inside.scale_entropy_figure(blk, head=1, query=0), inside.residual_figure(blk),
            inside.mlp_figure(blk, token=2), inside.top_classes_figure(trace.trace_head(handle, images)),
            inside.grad_norms_figure(grads)]
    for fig in figs:
        _assert_drawn(fig)
    assert "max |conv − matmul|" in figs[1].layout.title.text
    assert figs[-1].layout.yaxis.type == "log" and len(figs[-1].data) == 2
    with pytest.raises(InputError, match="Head 4"):
        inside.qkv_figure(blk, head=blk.num_heads)
    with pytest.raises(InputError, match="no classifier"):
        mae = vc.load_model("bundled:tiny_mae")
        inside.top_classes_figure(trace.trace_head(mae, torch.rand(1, 3, 64, 64)))
