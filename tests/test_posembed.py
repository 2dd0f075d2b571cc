"""Position embeddings: hand-computed grids on known embeddings, MAE sin-cos parity, layouts, resampling, figures."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import timm
import torch

from tests.conftest import tiny_handle
from vizcore.analysis import posembed as P
from vizcore.errors import InputError, VizcoreError
from vizcore.figures import posembed as F


def _vit(img_size=(48, 48), **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=img_size, depth=1, **kw).eval()


def _set_known(module: torch.nn.Module, cls_value: float = 100.0) -> None:
    """Patch (r, c) gets e_r + e_(gh + c): cosine((r, c), (r', c')) = ([r = r'] + [c = c']) / 2."""
    gh, gw = module.patch_embed.grid_size
    pe = torch.zeros_like(module.pos_embed)  # (1, R, D)
    n_prefix = pe.shape[1] - gh * gw
    pe[0, :n_prefix] = cls_value  # must never show up in the grid
    for r in range(gh):
        for c in range(gw):
            pe[0, n_prefix + r * gw + c, r] = 1.0
            pe[0, n_prefix + r * gw + c, gh + c] = 1.0
    with torch.no_grad():
        module.pos_embed.copy_(pe)


def _known_sim(gh: int, gw: int) -> np.ndarray:
    r, c = np.indices((gh, gw))
    return ((r[:, :, None, None] == r[None, None]).astype(float) + (c[:, :, None, None] == c[None, None])) / 2


# ---- similarity grid ---------------------------------------------------------------------------------------

def test_similarity_grid_matches_hand_computation_on_a_non_square_grid():
    module = _vit(img_size=(32, 48))  # 2 x 3 patches: read from the model, never sqrt(6)
    _set_known(module)
    sim = P.similarity_grid(module)
    assert sim.shape == (2, 3, 2, 3) and sim.dtype == np.float64
    np.testing.assert_allclose(sim, _known_sim(2, 3), atol=1e-12)
    assert sim[0, 0, 0, 1] == pytest.approx(0.5) and sim[0, 0, 1, 1] == pytest.approx(0.0)


@pytest.mark.parametrize("kind,prefix_rows", [("cls", 1), ("distilled", 2), ("registers", 0)])
def test_prefix_rows_are_read_from_the_model(kind, prefix_rows):
    handle = tiny_handle(kind)
    _set_known(handle.module)
    pe, n_prefix = P.patch_position_embeddings(handle)
    gh, gw = handle.module.patch_embed.grid_size
    assert n_prefix == prefix_rows and tuple(pe.shape) == (gh, gw, handle.module.embed_dim)
    np.testing.assert_allclose(P.similarity_grid(handle), _known_sim(gh, gw), atol=1e-12)  # handle or module


def test_similarity_grid_is_a_cosine_so_scale_free_and_one_on_the_diagonal():
    module = _vit()
    sim = P.similarity_grid(module)
    with torch.no_grad():
        module.pos_embed.mul_(8.0)  # a power of two: exact in float32
    np.testing.assert_allclose(P.similarity_grid(module), sim, atol=1e-12)
    np.testing.assert_allclose(np.einsum("ijij->ij", sim), 1.0, atol=1e-12)
    np.testing.assert_allclose(sim, sim.transpose(2, 3, 0, 1), atol=1e-12)


# ---- models without an absolute table ------------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs,says", [
    ("beit_base_patch16_224", dict(depth=1, embed_dim=32, num_heads=2), "relative position bias"),
    ("swin_tiny_patch4_window7_224", dict(depths=(1, 1, 1, 1), embed_dim=16, num_heads=(1, 1, 1, 1)),
     "relative position bias"),
    ("vit_base_patch16_rope_reg1_gap_256", dict(depth=1, embed_dim=32, num_heads=2), "RoPE"),
])
def test_models_without_absolute_embedding_explain_what_they_use(name, kwargs, says):
    module = timm.create_model(name, pretrained=False, **kwargs)
    assert says in P.position_scheme(module)
    with pytest.raises(P.NoAbsolutePositionEmbeddingError, match=says) as err:
        P.similarity_grid(module)
    assert isinstance(err.value, VizcoreError)


def test_eva02_has_both_an_absolute_table_and_rope():
    module = timm.create_model("eva02_tiny_patch14_224", pretrained=False, depth=1)
    scheme = P.position_scheme(module)
    assert "absolute position embedding" in scheme and "RoPE" in scheme
    pe, n_prefix = P.patch_position_embeddings(module)
    assert tuple(pe.shape) == (16, 16, 192) and n_prefix == 1


# ---- resampling ----------------------------------------------------------------------------------------------

def test_resampled_is_what_timm_adds_for_a_dynamic_size():
    module = _vit(img_size=(48, 48), dynamic_img_size=True)  # native 3 x 3
    native, _ = P.patch_position_embeddings(module)
    torch.testing.assert_close(P.resampled(module, (48, 48)), native)
    new = P.resampled(module, (32, 80))  # 2 x 5
    assert tuple(new.shape) == (2, 5, 192)
    with torch.no_grad():
        added = module._pos_embed(torch.zeros(1, 2, 5, 192))[0, 1:]  # patch rows of zeros + position: (10, D)
    torch.testing.assert_close(new.reshape(10, 192).float(), added, atol=1e-5, rtol=1e-5)
    with pytest.raises(InputError, match="smaller than one"):
        P.resampled(module, (8, 8))


# ---- fixed 2-D sin-cos ---------------------------------------------------------------------------------------

def _mae_get_2d_sincos_pos_embed(embed_dim, grid_size):
    """facebookresearch/mae util/pos_embed.py (square grids; np.float -> np.float64), the parity reference."""
    grid_h = np.arange(grid_size, dtype=np.float32)
    grid_w = np.arange(grid_size, dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # here w goes first
    grid = np.stack(grid, axis=0).reshape([2, 1, grid_size, grid_size])

    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64)
        omega /= dim / 2.0
        omega = 1.0 / 10000**omega
        out = np.einsum("m,d->md", pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    return np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)


@pytest.mark.parametrize("dim,size", [(8, 3), (64, 7), (768, 14)])
def test_sincos_matches_mae(dim, size):
    np.testing.assert_allclose(P.sincos_2d(dim, (size, size)), _mae_get_2d_sincos_pos_embed(dim, size), atol=1e-12)


def test_sincos_hand_computed_entries_first_half_is_the_column():
    emb = P.sincos_2d(8, (2, 3))  # omega = (1, 1/100) per half
    assert emb.shape == (6, 8)
    r, c = 1, 2
    expected = [math.sin(c), math.sin(c / 100), math.cos(c), math.cos(c / 100),
                math.sin(r), math.sin(r / 100), math.cos(r), math.cos(r / 100)]
    np.testing.assert_allclose(emb[r * 3 + c], expected, atol=1e-15)
    np.testing.assert_allclose(emb[0], [0, 0, 1, 1, 0, 0, 1, 1], atol=1e-15)
    with pytest.raises(InputError, match="divisible by 4"):
        P.sincos_2d(6, (2, 2))


def test_sincos_like_uses_the_models_grid_and_width():
    assert P.sincos_like(_vit(img_size=(32, 48))).shape == (2, 3, 192)


# ---- offsets and principal components ------------------------------------------------------------------------

def test_offset_similarity_hand_computed():
    r, c = np.indices((3, 4))
    pe = np.zeros((3, 4, 7))
    pe[r, c, r] = 1.0
    pe[r, c, 3 + c] = 1.0
    off = P.offset_similarity(pe)
    assert off.shape == (5, 7)
    expected = np.zeros((5, 7))
    expected[2, :] = 0.5  # same row, other column
    expected[:, 3] = 0.5  # same column, other row
    expected[2, 3] = 1.0
    np.testing.assert_allclose(off, expected, atol=1e-12)


def test_sincos_similarity_falls_off_with_both_offsets():
    off = P.offset_similarity(P.sincos_2d(64, (6, 6)).reshape(6, 6, 64))
    centre = off[5, 5]
    assert centre == pytest.approx(1.0)
    assert off[5, 6] < centre and off[6, 5] < centre and off[6, 6] < min(off[5, 6], off[6, 5])
    np.testing.assert_allclose(off, off[::-1, ::-1], atol=1e-12)


def test_principal_components_find_the_row_and_column_axes():
    r, c = np.indices((4, 4)).astype(float)
    pe = np.zeros((4, 4, 5))
    pe[..., 0], pe[..., 1] = 3.0 * r, 1.0 * c  # row variance 9x the column variance
    pcs, ratios = P.principal_components(torch.from_numpy(pe), k=3)
    assert pcs.shape == (3, 4, 4)
    np.testing.assert_allclose(ratios, [0.9, 0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(pcs[0]), np.abs(3.0 * (r - 1.5)), atol=1e-12)
    np.testing.assert_allclose(np.abs(pcs[1]), np.abs(c - 1.5), atol=1e-12)
    assert pcs[0].flat[np.abs(pcs[0]).argmax()] > 0  # deterministic sign


# ---- figures -------------------------------------------------------------------------------------------------

def test_similarity_grid_figure_is_one_mosaic_with_hover_labels():
    rng = np.random.default_rng(0)
    sim = rng.uniform(-1, 1, (14, 14, 14, 14))
    fig = F.similarity_grid_figure(sim, title="Position embedding similarity")
    (trace,) = fig.data
    assert isinstance(trace, go.Heatmap) and fig.layout.title.text.startswith("Position")
    z = np.asarray(trace.z)
    assert z.shape == (14 * 15 - 1, 14 * 15 - 1) and np.isnan(z[14]).all()
    r, c, kr, kc = 5, 9, 2, 11
    cell = (r * 15 + kr, c * 15 + kc)
    assert z[cell] == pytest.approx(sim[r, c, kr, kc], abs=1e-6)
    assert tuple(np.asarray(trace.customdata)[cell]) == (r, c, kr, kc)
    assert (trace.zmin, trace.zmax) == (-1, 1) and trace.colorbar.title.text
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text


def test_similarity_grid_figure_thins_query_tiles_of_large_grids():
    sim = np.zeros((37, 37, 37, 37), dtype=np.float32)
    fig = F.similarity_grid_figure(sim, title="DINOv2 grid", scale="data")
    assert np.asarray(fig.data[0].z).size <= 250_000 and "0, 3, 6" in fig.layout.title.text
    with pytest.raises(InputError):
        F.similarity_grid_figure(np.zeros((3, 3, 3, 4)), title="bad")


def test_other_position_figures_are_labelled():
    pe = P.sincos_2d(32, (4, 5)).reshape(4, 5, 32)
    off = P.offset_similarity(pe)
    pcs, ratios = P.principal_components(pe, k=4)
    figs = [F.offset_similarity_figure(off, title="Offsets"), F.principal_components_figure(pcs, ratios, title="PCs"),
            F.sincos_vs_learned_figure(off, off, title="Learned vs sin-cos")]
    assert all(fig.layout.title.text for fig in figs)
    assert figs[0].layout.xaxis.title.text and figs[0].layout.yaxis.title.text and figs[0].data[0].colorbar.title.text
    assert figs[1].layout.coloraxis.colorbar.title.text and len(figs[1].data) == 4
    assert figs[2].layout.xaxis.title.text and figs[2].layout.yaxis.title.text
    assert {t.name for t in figs[2].data} == {"learned", "fixed 2-D sin-cos"}
    assert "PC1" in figs[1].layout.annotations[0].text


# ---- words that match the model (issue 13 §5) -------------------------------------------------------------

def test_a_fixed_sincos_table_is_recognised_and_called_fixed_not_learned():
    import vizcore as vc
    from vizcore.models.sincos import sincos_2d

    mae = vc.load_model("bundled:tiny_mae")  # its encoder's table is stored as a parameter, but equals sincos_2d
    assert P.is_fixed_sincos(mae)
    scheme = P.position_scheme(mae)
    assert "fixed 2-D sin-cos" in scheme and "learned" not in scheme
    assert not P.is_fixed_sincos(vc.load_model("bundled:tiny_vit"))

    m = _vit()
    gh, gw = m.patch_embed.grid_size
    with torch.no_grad():
        m.pos_embed[0, 1:] = torch.from_numpy(sincos_2d(m.pos_embed.shape[-1], (gh, gw))).float()
    assert P.is_fixed_sincos(m) and "learned" not in P.position_scheme(m)
    with torch.no_grad():
        m.pos_embed[0, 5, 3] += 0.01  # one trained step away from the sin-cos: learned
    assert not P.is_fixed_sincos(m) and "learned" in P.position_scheme(m)


def test_component_captions_follow_the_table():
    from vizcore.models.sincos import sincos_2d
    from vizcore.ui.posembed_views import describe_components

    sincos = sincos_2d(64, (8, 8)).reshape(8, 8, 64)
    fit = P.gradient_fit(P.principal_components(sincos)[0])
    assert (fit[:2] > 0.85).all()
    noise = np.random.default_rng(0).normal(size=(8, 8, 64))
    assert (P.gradient_fit(P.principal_components(noise)[0])[:2] < 0.3).all()
    assert "not something the model learned" in describe_components(fit, fixed=True, pretrained=True)
    assert "has learned a 2-D coordinate system" in describe_components(fit, fixed=False, pretrained=True)
    text = describe_components(np.array([0.05, 0.1]), fixed=False, pretrained=False)
    assert "random initialisation" in text and "learned a 2-D" not in text
