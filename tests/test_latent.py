"""Latent-space math: slerp/lerp properties, closed-form KL vs Monte Carlo, top-k, traversals, manifold, GIF."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import vizcore as vc
from vizcore.analysis import latent
from vizcore.errors import InputError
from vizcore.models.autoencoders import AeConfig, build_autoencoder, handle_for, topk_code

FLOATS = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)


def vectors(d: int):
    return st.lists(FLOATS, min_size=d, max_size=d).map(lambda v: torch.tensor(v, dtype=torch.float64))


pairs = st.integers(2, 12).flatmap(lambda d: st.tuples(vectors(d), vectors(d)))  # 1-D: see the fallback test


@settings(max_examples=200, deadline=None)
@given(pairs, st.integers(2, 20), st.sampled_from(latent.METHODS))
def test_paths_start_and_end_exactly_at_the_endpoints(zz, steps, method):
    z0, z1 = zz
    path = latent.interpolate(z0, z1, steps, method=method)
    assert path.shape == (steps, len(z0)) and path.dtype == torch.float64
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert torch.isfinite(path).all()


@settings(max_examples=200, deadline=None)
@given(pairs, st.integers(2, 20))
def test_slerp_norm_goes_linearly_from_one_norm_to_the_other(zz, steps):
    z0, z1 = zz
    path = latent.interpolate(z0, z1, steps, method="slerp")
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    expected = (1 - t) * z0.norm() + t * z1.norm()
    assert torch.allclose(path.norm(dim=1), expected, atol=1e-9, rtol=1e-9)


@settings(max_examples=200, deadline=None)
@given(pairs)
def test_slerp_direction_moves_at_constant_angular_speed(zz):
    z0, z1 = zz
    if z0.norm() < 1e-3 or z1.norm() < 1e-3:
        return
    path = latent.interpolate(z0, z1, 9, method="slerp")[1:-1]
    u = path / path.norm(dim=1, keepdim=True)
    steps = torch.arccos(torch.clamp((u[1:] * u[:-1]).sum(1), -1, 1))  # angle between neighbouring frames
    assert torch.allclose(steps, steps.mean().expand_as(steps), atol=1e-5)


def test_slerp_of_unit_vectors_stays_on_the_sphere_and_matches_the_textbook_formula():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 16, generator=g, dtype=torch.float64)
    a, b = a / a.norm(), b / b.norm()
    omega = torch.arccos(a @ b)
    t = torch.linspace(0, 1, 7, dtype=torch.float64)[:, None]
    textbook = (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)  # Shoemake 1985
    assert torch.allclose(latent.interpolate(a, b, 7), textbook, atol=1e-12)


@pytest.mark.parametrize("offset", [0.0, 1e-12, 1e-9, 1e-7, 1e-4])
def test_nearly_opposite_endpoints_are_safe(offset):
    z0 = torch.tensor([3.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    z1 = -2.0 * z0 / 3.0 + torch.tensor([0.0, offset, 0.0, 0.0], dtype=torch.float64)
    path = latent.interpolate(z0, z1, 11)
    assert torch.isfinite(path).all()
    expected = (1 - torch.linspace(0, 1, 11, dtype=torch.float64)) * 3.0 + torch.linspace(0, 1, 11) * z1.norm()
    assert torch.allclose(path.norm(dim=1), expected, atol=1e-9)
    # the direction turns by ~180 degrees in equal steps, never through the origin
    u = path / path.norm(dim=1, keepdim=True)
    angles = torch.arccos(torch.clamp((u[1:] * u[:-1]).sum(1), -1, 1))
    assert torch.allclose(angles, torch.full_like(angles, math.pi / 10), atol=1e-4)


def test_lerp_between_typical_gaussian_codes_dips_in_norm_but_slerp_does_not():
    g = torch.Generator().manual_seed(1)
    z0, z1 = torch.randn(2, 64, generator=g, dtype=torch.float64)
    mid_lerp = latent.interpolate(z0, z1, 3, method="lerp")[1].norm()
    mid_slerp = latent.interpolate(z0, z1, 3, method="slerp")[1].norm()
    assert mid_lerp < 0.8 * min(z0.norm(), z1.norm())  # about 1/sqrt(2) of them for orthogonal codes
    assert mid_slerp == pytest.approx(float((z0.norm() + z1.norm()) / 2))


def test_one_dimensional_opposite_endpoints_fall_back_to_the_straight_line():
    path = latent.interpolate(torch.tensor([2.0]), torch.tensor([-1.0]), 4)
    assert torch.allclose(path[:, 0], torch.tensor([2.0, 1.0, 0.0, -1.0]))


def test_zero_and_identical_endpoints():
    z = torch.tensor([1.0, 2.0])
    assert torch.allclose(latent.interpolate(z, z, 5), z.expand(5, 2))
    path = latent.interpolate(torch.zeros(2), z, 5)
    assert torch.allclose(path, torch.linspace(0, 1, 5)[:, None] * z, atol=1e-6)


@pytest.mark.parametrize("bad", [dict(steps=1), dict(method="cubic"), dict(z1=torch.zeros(3))])
def test_bad_interpolation_arguments_say_what_to_do(bad):
    args = dict(z0=torch.zeros(2), z1=torch.ones(2), steps=5, method="slerp") | bad
    with pytest.raises(InputError):
        latent.interpolate(args["z0"], args["z1"], args["steps"], method=args["method"])


def test_public_entry_point_is_vc_latent_interpolate():
    assert vc.latent.interpolate is latent.interpolate


def test_closed_form_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.tensor([0.0, 1.5, -0.7, 2.0], dtype=torch.float64)
    logvar = torch.tensor([0.0, -1.0, 0.8, -3.0], dtype=torch.float64)
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * torch.randn(400_000, 4, generator=g, dtype=torch.float64)  # z ~ q
    log_q = -0.5 * (((z - mu) / sigma) ** 2 + logvar + math.log(2 * math.pi))
    log_p = -0.5 * (z**2 + math.log(2 * math.pi))
    mc = (log_q - log_p).mean(0)  # (D,) E_q[log q - log p]
    closed = latent.kl_divergence(mu, logvar)
    assert closed[0] == 0.0  # q = p
    assert torch.allclose(mc, closed, atol=0.01, rtol=0.01)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 64), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_topk_keeps_exactly_k_units_per_row(d, b, seed):
    k = 1 + seed % d
    pre = torch.randn(b, d, generator=torch.Generator().manual_seed(seed)).abs() + 0.01  # all positive
    code = topk_code(pre, k)
    assert ((code != 0).sum(1) == k).all()
    kept = code != 0
    assert torch.equal(code[kept], pre[kept])  # kept units pass through unchanged
    assert (pre[kept].view(b, k).min(1).values >= torch.where(kept, -1.0, pre).max(1).values).all()


def test_topk_never_keeps_more_than_k_and_zeroes_negative_winners():
    pre = torch.tensor([[3.0, -1.0, -2.0, -0.5]])
    assert torch.equal(topk_code(pre, 2), torch.tensor([[3.0, 0.0, 0.0, 0.0]]))


@pytest.fixture(scope="module")
def tiny_vae():
    torch.manual_seed(0)
    module = build_autoencoder(AeConfig("vae", (8, 8), 1, 4, (16,)))
    return handle_for(module, {"name": "t", "data": {"dataset": "digits"}}, "test:vae")


@pytest.mark.parametrize("conv", [False, True])
def test_interpolation_endpoints_decode_exactly_to_the_endpoint_decodes(tiny_vae, conv):
    handle = tiny_vae
    if conv:  # convolutions: batched matmuls whose rounding can depend on the batch size
        torch.manual_seed(0)
        cfg = AeConfig("vae", (16, 16), 1, 6, hidden=(32,), conv_channels=(8, 16))
        handle = handle_for(build_autoencoder(cfg), {"name": "c"}, "test:conv")
    x = torch.rand(2, 1, *handle.cfg.image_size, generator=torch.Generator().manual_seed(0))
    z = handle.encode(x)
    for method in latent.METHODS:
        path = latent.interpolation_path(handle, z[0], z[1], 7, method=method)
        assert torch.equal(path.z[0], z[0]) and torch.equal(path.z[-1], z[1])
        assert torch.equal(path.images[0], handle.decode(z[0])[0])
        assert torch.equal(path.images[-1], handle.decode(z[1])[0])


def test_traversal_sweeps_one_dimension_per_row_sorted_by_kl(tiny_vae):
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    stats = latent.latent_stats(tiny_vae, x)
    tr = latent.traverse(tiny_vae, tiny_vae.encode(x[:1])[0], stats, steps=5)
    assert tr.images.shape == (4, 5, 1, 8, 8)
    assert (tr.kl[:-1] >= tr.kl[1:]).all() and torch.equal(tr.dims, stats.order)
    assert torch.allclose(tr.values, torch.linspace(-3, 3, 5))


def test_manifold_grid_uses_gaussian_quantiles_and_puts_high_values_on_top(tiny_vae):
    grid = latent.gaussian_grid(5)
    assert grid[2] == pytest.approx(0.0, abs=1e-6) and grid[-1] == pytest.approx(1.6449, abs=1e-3)
    mf = latent.manifold(tiny_vae, 5, dims=(0, 2))
    assert mf.images.shape == (5, 5, 1, 8, 8)
    z = torch.zeros(4)
    z[0], z[2] = grid[0], grid[-1]  # top-left cell: lowest x, highest y
    assert torch.allclose(mf.images[0, 0], tiny_vae.decode(z)[0], atol=1e-6)
    with pytest.raises(InputError):
        latent.manifold(tiny_vae, 5, dims=(1, 1))


def test_reparameterisation_draws_are_mu_plus_sigma_eps(tiny_vae):
    x = torch.rand(1, 1, 8, 8)
    r = latent.reparameterise(tiny_vae, x, 6, seed=3)
    assert r.z.shape == (6, 4) and r.images.shape == (6, 1, 8, 8)
    assert torch.allclose(r.z, r.mu + r.sigma * r.eps)
    again = latent.reparameterise(tiny_vae, x, 6, seed=3)
    assert torch.equal(again.z, r.z)


def test_animation_gif_is_a_looping_gif_with_every_frame():
    frames = torch.linspace(0, 1, 5).view(5, 1, 1, 1).expand(5, 1, 4, 4)
    data = latent.animation_gif(frames, scale=2)
    im = Image.open(io.BytesIO(data))
    assert im.format == "GIF" and im.size == (8, 8) and im.n_frames == 8  # 5 forward + 3 back
    assert np.asarray(im.convert("L"))[0, 0] == 0


def _latent_figures():
    from vizcore import figures as f

    g = np.random.default_rng(0)
    imgs = g.uniform(size=(2, 3, 1, 8, 8))
    hist = [{"step": s, "loss": 1.0 / s, "recon": 0.9 / s} for s in range(1, 20)]
    return {
        "image_grid": f.image_grid(imgs, title="t", x_title="x", y_title="y", muted_rows=[False, True]),
        "norm_path": f.norm_path_figure(np.linspace(0, 1, 5), {"slerp": np.ones(5), "lerp": np.full(5, 0.7)},
                                        title="t", current_t=0.5, prior_norm=1.2),
        "kl": f.kl_figure(np.array([2.0, 0.0, 1.0]), np.array([True, False, True]), title="t"),
        "scatter": f.latent_scatter(g.normal(size=(30, 3)), g.integers(0, 3, 30), ["a", "b", "c"], title="t"),
        "posterior": f.posterior_figure(np.zeros(3), np.ones(3), g.normal(size=(4, 3)), title="t"),
        "tradeoff": f.tradeoff_figure([0.5, 1, 4], [0.01, 0.02, 0.04], [20, 10, 5], [8, 5, 3], title="t"),
        "bottleneck": f.bottleneck_figure({"AE": ([2, 4], [0.03, 0.02]), "PCA": ([2, 4], [0.05, 0.04])}, title="t"),
        "accuracy": f.accuracy_figure([{"model": "m", "code": 0.9, "PCA": 0.8, "pixels": 0.95}], title="t"),
        "loss": f.loss_curve_figure(hist, title="t", total_steps=20),
        "sparsity": f.sparsity_figure(g.uniform(size=(10, 6)) * (g.uniform(size=(10, 6)) > 0.6),
                                      g.uniform(size=10), np.array([0.5, 0, 0.2, 0.1, 0.3, 0.0]), title="t"),
        "atom": f.atom_figure(g.normal(size=(1, 8, 8)), title="t"),
    }


@pytest.mark.parametrize("name", list(_latent_figures()))
def test_every_latent_figure_has_a_title_axis_labels_and_a_legend_or_colour_bar(name):
    fig = _latent_figures()[name]
    assert fig.layout.title.text
    assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    scale = any(getattr(getattr(t, "marker", None), "showscale", None) or (t.type == "heatmap" and t.showscale
                                                                          is not False) for t in fig.data)
    legend = any(t.name and t.showlegend is not False for t in fig.data) and fig.layout.showlegend is not False
    assert scale or legend, name


def test_image_grid_rejects_label_count_mismatch():
    from vizcore import figures as f

    with pytest.raises(InputError):
        f.image_grid(np.zeros((2, 3, 1, 4, 4)), title="t", row_labels=["only one"])


def test_prior_norm_limit_is_the_chi_quantile_and_flags_codes_far_outside_the_prior():
    from vizcore.analysis.latent import PRIOR_QUANTILE, prior_norm_limit

    assert prior_norm_limit(10) == pytest.approx(4.8176, abs=1e-3)  # sqrt(chi2.ppf(0.99, 10)); typical sqrt(10) = 3.16
    z = torch.randn(200_000, 10, generator=torch.Generator().manual_seed(0))
    inside = float((z.norm(dim=1) <= prior_norm_limit(10)).float().mean())
    assert inside == pytest.approx(PRIOR_QUANTILE, abs=2e-3)
    assert prior_norm_limit(10) < 5.7  # the photo endpoints (|z| about 5.7) are flagged
