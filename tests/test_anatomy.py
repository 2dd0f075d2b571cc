"""ViT anatomy: parameter tables and the ViT-B/16 reconciliation, live block shapes, activations, attention
distance check values, CKA properties, figures."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest
import timm
import torch
import torch.nn.functional as TF

from tests.conftest import tiny_handle
from vizcore.analysis import anatomy as A
from vizcore.analysis import attention
from vizcore.analysis.cka import _unbiased_hsic_terms
from vizcore.errors import InputError
from vizcore.figures import anatomy as F
from vizcore.models.layout import TokenLayout

VIT_B_REAL, VIT_B_SIMPLE = 86_567_656, 86_329_344


def _meta(name: str) -> torch.nn.Module:
    """Full-size architecture on the meta device: exact parameter shapes, no memory, no init time."""
    with torch.device("meta"):
        return timm.create_model(name, pretrained=False)


# ---- parameter table -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "deit_tiny_distilled_patch16_224",
                                  "vit_small_patch14_reg4_dinov2", "vit_base_patch16_224"])
def test_parameter_table_accounts_for_every_parameter(name):
    module = _meta(name)
    rows = A.parameter_table(module)
    assert sum(r.count for r in rows) == sum(p.numel() for p in module.parameters())
    assert sum(A.component_totals(rows).values()) == sum(p.numel() for p in module.parameters())
    assert sorted(r.name for r in rows) == sorted(n for n, _ in module.named_parameters())
    assert not [r.name for r in rows if r.component == "other"]


def test_parameter_table_components_of_vit_b_and_the_prefix_token_families():
    D, L = 768, 12
    totals = A.component_totals(A.parameter_table(_meta("vit_base_patch16_224")))
    assert totals == {"patch embedding": 16 * 16 * 3 * D + D, "position embedding": 197 * D, "cls token": D,
                      "norm1": L * 2 * D, "qkv": L * (3 * D * D + 3 * D), "attention projection": L * (D * D + D),
                      "norm2": L * 2 * D, "mlp fc1": L * (4 * D * D + 4 * D), "mlp fc2": L * (4 * D * D + D),
                      "final norm": 2 * D, "head": D * 1000 + 1000}
    distilled = A.component_totals(A.parameter_table(_meta("deit_tiny_distilled_patch16_224")))
    assert distilled["distillation token"] == 192 and distilled["head"] == 2 * (192 * 1000 + 1000)
    reg = A.parameter_table(_meta("vit_small_patch14_reg4_dinov2"))
    assert A.component_totals(reg)["register tokens"] == 4 * 384
    assert {r.block for r in reg if r.component == "layer scale"} == set(range(12))
    assert [r.component for r in reg[:5]] == ["patch embedding", "patch embedding", "position embedding",
                                              "cls token", "register tokens"]


def test_simplified_formula_and_vit_b_reconciliation():
    assert A.simplified_vit_count() == VIT_B_SIMPLE
    assert sum(n for _, n in A.simplified_vit_terms()) == VIT_B_SIMPLE
    module = _meta("vit_base_patch16_224")
    assert sum(p.numel() for p in module.parameters()) == VIT_B_REAL
    terms = dict(A.reconcile_vit_b(module))
    assert sum(terms.values()) == VIT_B_REAL - VIT_B_SIMPLE == 238_312
    assert terms == {
        "patch-embedding bias (D)": 768, "position embedding, patch rows (N·D, N = 196)": 196 * 768,
        "position embedding, CLS row (D)": 768, "CLS token (D)": 768, "qkv biases (L·3D)": 12 * 3 * 768,
        "attention projection biases (L·D)": 12 * 768, "MLP fc1 biases (L·r·D)": 12 * 4 * 768,
        "MLP fc2 biases (L·D)": 12 * 768, "final LayerNorm gamma, beta (2D)": 2 * 768, "head bias (K)": 1000}


@pytest.mark.parametrize("name", ["deit_tiny_distilled_patch16_224", "vit_small_patch14_reg4_dinov2"])
def test_reconciliation_sums_to_the_difference_for_other_layouts(name):
    module = _meta(name)
    arch = A.vit_dimensions(module)
    terms = A.reconcile_vit_b(module)
    assert sum(n for _, n in terms) == sum(p.numel() for p in module.parameters()) - A.simplified_vit_count(**arch)
    assert "formula vs this model's weight shapes" not in dict(terms)


# ---- live shapes, LayerNorm, residual stream -----------------------------------------------------------------

def test_block_shapes_follow_the_tensors_and_leave_the_model_as_it_was():
    handle = tiny_handle("cls")  # 64 px, patch 16: N = 1 + 16, D = 192, 3 heads of 64
    x = torch.rand(2, 3, 64, 64)
    steps = A.block_shapes(handle, x, block=1)
    shapes = {s.name: s.shape for s in steps}
    assert shapes == {"block input": (2, 17, 192), "norm1": (2, 17, 192), "qkv": (2, 17, 576),
                      "split into heads": (3, 2, 3, 17, 64), "attention weights": (2, 3, 17, 17),
                      "attention output": (2, 17, 192), "residual 1": (2, 17, 192), "norm2": (2, 17, 192),
                      "mlp fc1": (2, 17, 768), "GELU": (2, 17, 768), "mlp fc2": (2, 17, 192),
                      "block output": (2, 17, 192)}
    assert [s.letters for s in steps][2:5] == ["(B, N, 3D)", "(3, B, h, N, d)", "(B, h, N, N)"]
    assert all(s.explanation for s in steps)
    assert all(b.attn.fused_attn for b in handle.module.blocks)  # restored
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in handle.module.modules())
    with pytest.raises(InputError, match="Block 5"):
        A.block_shapes(handle, x, block=5)


def test_layernorm_effect_and_residual_norms_match_the_module():
    handle = tiny_handle("registers")
    x = torch.rand(2, 3, 64, 64)
    before, after = A.layernorm_effect(handle, x, block=1)
    norm1 = handle.module.blocks[1].norm1
    with torch.no_grad():
        expected = norm1(torch.from_numpy(before)).numpy()
    np.testing.assert_allclose(after, expected, atol=1e-5)
    np.testing.assert_allclose(after.mean(axis=-1), 0.0, atol=1e-4)  # fresh LayerNorm: weight 1, bias 0
    norms = A.residual_norms(handle, x)
    assert norms.shape == (handle.num_layers + 1,) and (norms > 0).all()
    last = handle.intermediates(handle.prepare(x), [-1])[0].double().norm(dim=-1).mean()
    assert norms[-1] == pytest.approx(float(last), rel=1e-6)
    assert A.residual_norms(handle, x, tokens="patches").shape == norms.shape


def test_activation_curves_match_torch_autograd():
    x = torch.linspace(-4, 4, 161, dtype=torch.float64, requires_grad=True)
    curves = A.activation_curves(x.detach().numpy())
    for name, fn in (("gelu", TF.gelu), ("relu", TF.relu)):
        y = fn(x)
        (grad,) = torch.autograd.grad(y.sum(), x)
        np.testing.assert_allclose(curves[name], y.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(curves[f"{name}_grad"], grad.numpy(), atol=1e-12)


# ---- mean attention distance ---------------------------------------------------------------------------------

def _layout(grid=(14, 14), patch=(16, 16), prefix=1) -> TokenLayout:
    return TokenLayout(prefix, grid, patch, ("cls",) + tuple(f"reg{i}" for i in range(1, prefix)))


def test_mean_attention_distance_check_values():
    layout = _layout()
    N = layout.num_tokens
    uniform = torch.full((1, 1, 1, N, N), 1.0 / N)  # prefix column dropped, rows re-normalised
    assert A.mean_attention_distance(uniform, layout)[0, 0] == pytest.approx(116.49, abs=0.005)
    identity = torch.eye(N).expand(2, 3, 4, N, N)
    np.testing.assert_allclose(A.mean_attention_distance(identity, layout), np.zeros((3, 4)), atol=1e-12)


def test_mean_attention_distance_uses_non_square_patches():
    layout = _layout(grid=(2, 1), patch=(8, 16), prefix=2)  # two patches stacked: centres 8 px apart
    attn = torch.zeros(1, 1, 1, 4, 4)
    attn[..., 2, 3] = attn[..., 3, 2] = 0.5  # half of each row on the other patch ...
    attn[..., 2:, 0] = 0.5  # ... and half on CLS, which is dropped
    assert A.mean_attention_distance(attn, layout)[0, 0] == pytest.approx(8.0)
    with pytest.raises(InputError, match="Expected attention"):
        A.mean_attention_distance(torch.zeros(1, 1, 1, 5, 5), layout)


def test_mean_attention_distance_on_a_captured_model():
    handle = tiny_handle("distilled")
    maps = attention.capture(handle, torch.rand(1, 3, 64, 64))
    dist = A.mean_attention_distance(maps.attn, maps.layout)
    assert dist.shape == (handle.num_layers, handle.num_heads) and (dist >= 0).all()
    assert dist.max() <= np.sqrt(2) * 64


# ---- CKA -----------------------------------------------------------------------------------------------------

def test_linear_cka_properties():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(200, 12)), rng.normal(size=(200, 9))
    Q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    assert A.linear_cka(X, X) == pytest.approx(1.0)
    assert A.linear_cka(X, X @ Q * 3.7 + 5.0) == pytest.approx(1.0)  # rotation, scale, shift
    assert A.linear_cka(X @ Q, 0.1 * Y) == pytest.approx(A.linear_cka(X, Y), abs=1e-12)
    stretch = np.diag(np.r_[100.0, np.ones(11)]) @ Q  # invertible but not orthogonal
    assert A.linear_cka(X, X @ stretch) < 0.5
    assert A.linear_cka(torch.from_numpy(X), Y) == pytest.approx(A.linear_cka(X, Y))


def test_cka_matrix_both_full_batch_paths_agree_with_linear_cka():
    rng = np.random.default_rng(1)
    for n, d in ((30, 50), (120, 6)):  # Gram (n <= d) and feature-space paths
        base = rng.normal(size=(n, d))
        feats = [base, base @ rng.normal(size=(d, d)), rng.normal(size=(n, d))]
        m = A.cka_matrix(feats)
        expected = [[A.linear_cka(a, b) for b in feats] for a in feats]
        np.testing.assert_allclose(m, expected, atol=1e-10)
        np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-12)


def test_unbiased_hsic_matches_the_written_out_estimator():
    rng = np.random.default_rng(2)
    m = 10
    grams = np.stack([g @ g.T for g in (rng.normal(size=(m, 4)), rng.normal(size=(m, 3)))])
    K, L = (g - np.diag(np.diag(g)) for g in grams)
    one = np.ones(m)
    hsic = (np.trace(K @ L) + (one @ K @ one) * (one @ L @ one) / ((m - 1) * (m - 2))
            - 2 / (m - 2) * one @ K @ L @ one) / (m * (m - 3))
    assert _unbiased_hsic_terms(grams)[0, 1] == pytest.approx(hsic, rel=1e-12)


def test_minibatch_unbiased_cka_is_close_to_the_biased_one_for_large_n():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 10))
    feats = [X, X @ rng.normal(size=(10, 10)) + rng.normal(size=(4000, 10)), rng.normal(size=(4000, 10))]
    full, mini = A.cka_matrix(feats), A.cka_matrix(feats, minibatch=400)
    np.testing.assert_allclose(mini, full, atol=0.02)
    np.testing.assert_allclose(np.diag(mini), 1.0, atol=1e-12)
    with pytest.raises(InputError, match="at least 4"):
        A.cka_matrix(feats, minibatch=2)


def test_unbiased_estimator_removes_the_finite_sample_bias_between_independent_layers():
    rng = np.random.default_rng(0)
    X, Z = rng.normal(size=(200, 50)), rng.normal(size=(200, 50))  # independent: population CKA is 0
    assert A.cka_matrix([X, Z])[0, 1] > 0.15  # biased: about d / n
    assert abs(A.cka_matrix([X, Z], minibatch=50)[0, 1]) < 0.05


def test_layer_features_pooling():
    handle = tiny_handle("cls")
    x = torch.rand(3, 3, 64, 64)
    tokens = A.layer_features(handle, x)
    assert len(tokens) == handle.num_layers and tokens[0].shape == (3 * 17, 192)
    assert A.layer_features(handle, x, pooling="cls")[1].shape == (3, 192)
    assert A.cka_matrix(A.layer_features(handle, x, pooling="mean")).shape == (2, 2)
    with pytest.raises(InputError, match="pooling"):
        A.layer_features(handle, x, pooling="max")


# ---- figures -------------------------------------------------------------------------------------------------

def _labelled(fig: go.Figure) -> None:
    assert isinstance(fig, go.Figure) and fig.layout.title.text.strip()
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_anatomy_figures_are_labelled():
    totals = A.component_totals(A.parameter_table(_meta("vit_tiny_patch16_224")))
    bar = F.parameter_bar(totals, title="Parameters")
    _labelled(bar)
    assert list(bar.data[0].y) == list(totals)

    dist = np.random.default_rng(0).uniform(10, 100, (4, 3))
    scatter = F.attention_distance_figure(dist, title="Attention distance", patch_size=16)
    _labelled(scatter)
    assert [t.name for t in scatter.data] == ["head 0", "head 1", "head 2", "mean over heads"]

    cka = F.cka_figure(np.eye(4), title="CKA")
    _labelled(cka)
    assert cka.data[0].colorbar.title.text == "linear CKA"

    act = F.activation_figure(A.activation_curves(np.linspace(-3, 3, 61)), title="GELU vs ReLU")
    _labelled(act)
    assert {t.name for t in act.data} == {"GELU", "ReLU"}

    rng = np.random.default_rng(1)
    hist = F.layernorm_hist_figure(rng.normal(3, 5, (2, 17, 8)), rng.normal(0, 1, (2, 17, 8)), title="LayerNorm")
    _labelled(hist)
    assert len(hist.data) == 2 and "std" in hist.layout.annotations[0].text

    res = F.residual_norm_figure(np.array([1.0, 2.0, 3.5]), title="Residual stream")
    _labelled(res)
    assert list(res.data[0].x) == ["embed", "block 0", "block 1"]
    with pytest.raises(InputError):
        F.cka_figure(np.zeros((2, 3)), title="bad")


def test_attention_distance_heads_never_take_the_mean_line_s_black():
    """A ViT-L has 16 heads: with the 20-colour palette head 12 was black, the colour of the mean over heads."""
    fig = F.attention_distance_figure(np.full((2, 20), 30.0), title="ViT-L-like", patch_size=16)
    heads = [t.marker.color for t in fig.data if t.name.startswith("head ")]
    assert len(set(heads)) == 19 and heads[19] == heads[0]  # 19 colours, then they repeat
    assert fig.data[-1].name == "mean over heads" and fig.data[-1].line.color == "black" and "#000000" not in heads
