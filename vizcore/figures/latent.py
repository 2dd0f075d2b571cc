"""Plotly figures for autoencoders and VAE latent spaces: arrays in, `go.Figure` out (never shown).

Inputs come from `vizcore.latent`, `vizcore.classify` and `vizcore.sparse`; no model is touched here. Grids of
small decoded images (interpolation strips, traversals, the 2-D manifold, reconstructions) are ONE PNG mosaic
with a transparent hover layer naming each cell, so a 20 x 20 manifold stays light.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizcore.errors import InputError
from vizcore.export import render
from vizcore.figures._common import CATEGORICAL, _colorbar, _image_trace, _style

GAP = 0.15            # gap between mosaic cells as a share of a cell side
MOSAIC_SIDE = 720     # mosaics are enlarged (nearest neighbour) to about this many pixels along the longer side
ACTIVE, INACTIVE = "#4C78A8", "#BBBBBB"
PALETTE = CATEGORICAL


def _cells(images) -> np.ndarray:
    """(R, S, C, H, W) or (S, C, H, W) floats in [0, 1] -> (R, S, H, W, 3) uint8."""
    arr = render.as_array(images).astype(np.float32)
    if arr.ndim == 4:
        arr = arr[None]
    if arr.ndim != 5 or arr.shape[2] not in (1, 3) or 0 in arr.shape:
        raise InputError(f"Expected images shaped (rows, cols, C, H, W) with C = 1 or 3; got {arr.shape}.")
    u8 = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8).transpose(0, 1, 3, 4, 2)  # (R, S, H, W, C)
    return np.repeat(u8, 3, axis=-1) if u8.shape[-1] == 1 else u8


def mosaic(images, *, gap: float = GAP, background: int = 230) -> tuple[np.ndarray, int, int]:
    """Lay out cells (R, S, C, H, W) with gaps: uint8 (H', W', 3) mosaic, cell pitch in y and in x (pixels)."""
    cells = _cells(images)
    R, S, H, W, _ = cells.shape
    g = max(1, round(gap * min(H, W)))
    out = np.full((R * (H + g) - g, S * (W + g) - g, 3), background, np.uint8)
    for r in range(R):
        for s in range(S):
            out[r * (H + g):r * (H + g) + H, s * (W + g):s * (W + g) + W] = cells[r, s]
    return out, H + g, W + g


def image_grid(images, *, title: str, subtitle: str = "", row_labels: Sequence[str] | None = None,
               col_labels: Sequence[str] | None = None, x_title: str = "", y_title: str = "",
               muted_rows: Sequence[bool] | None = None, hover: np.ndarray | None = None,
               height: int | None = None) -> go.Figure:
    """Decoded images as a grid with labelled rows and columns and a pixel-value colour bar.

    Args:
        images: (R, S, C, H, W) or (S, C, H, W) (one row) in [0, 1].
        row_labels, col_labels: tick labels, one per row / column.
        muted_rows: (R,) True rows are veiled in grey (e.g. inactive latent dimensions).
        hover: (R, S) strings shown when hovering a cell (default "row label · column label").
    """
    cells = _cells(images)
    R, S, H, W, _ = cells.shape
    mos, py, px = mosaic(images)
    k = max(1, math.floor(MOSAIC_SIDE / max(mos.shape[:2])))
    big = np.repeat(np.repeat(mos, k, axis=0), k, axis=1)
    fig = go.Figure(_image_trace(big, max_side=max(big.shape[:2])))
    ys, xs = (np.arange(R) * py + (H - 1) / 2) * k, (np.arange(S) * px + (W - 1) / 2) * k  # cell centres
    rl = list(row_labels) if row_labels is not None else [str(r) for r in range(R)]
    cl = list(col_labels) if col_labels is not None else [str(s) for s in range(S)]
    if len(rl) != R or len(cl) != S:
        raise InputError(f"Got {len(rl)} row and {len(cl)} column labels for a {R} x {S} grid.")
    text = hover if hover is not None else np.array([[f"{r} · {c}" for c in cl] for r in rl], dtype=object)
    fig.add_trace(go.Heatmap(z=np.zeros((R, S)), x=xs, y=ys, text=text, hovertemplate="%{text}<extra></extra>",
                             opacity=0, showscale=False, colorscale="Greys"))
    bar = dict(title=dict(text="pixel value", side="right"), thickness=10, outlinewidth=0, tickvals=[0, 0.5, 1],
               len=1.0 if R > 2 else 1.4)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", showlegend=False, hoverinfo="skip",
                             marker=dict(color=[0.0], colorscale="gray", cmin=0, cmax=1, showscale=True,
                                         colorbar=bar)))
    for r, muted in enumerate(muted_rows if muted_rows is not None else []):
        if muted:
            y0 = r * py * k - 0.5
            fig.add_shape(type="rect", x0=-0.5, x1=big.shape[1] - 0.5, y0=y0, y1=y0 + H * k,
                          fillcolor="rgba(200,200,200,0.55)", line_width=0)
    step_c = max(1, math.ceil(S / 15))
    fig.update_xaxes(tickvals=xs[::step_c], ticktext=cl[::step_c], title_text=x_title, showgrid=False,
                     zeroline=False, range=[-0.5, big.shape[1] - 0.5], constrain="domain")
    fig.update_yaxes(tickvals=ys, ticktext=rl, title_text=y_title, showgrid=False, zeroline=False,
                     range=[big.shape[0] - 0.5, -0.5], scaleanchor="x", constrain="domain")
    auto = int(min(900, max(230, 120 + 880 * big.shape[0] / big.shape[1])))  # ~fills a full-width column
    return _style(fig, title, height or auto, subtitle)


def norm_path_figure(t, norms: dict[str, np.ndarray], *, title: str, current_t: float | None = None,
                     prior_norm: float | None = None) -> go.Figure:
    """Latent norm |z(t)| along interpolation paths, one line per method.

    Args:
        t: (S,) path positions in [0, 1]; norms: {method: (S,) norms}.
        prior_norm: typical norm of a prior sample (about sqrt(D)), drawn as a dashed line.
    """
    fig = go.Figure()
    tt = render.as_array(t).astype(np.float64)
    for i, (name, n) in enumerate(norms.items()):
        fig.add_trace(go.Scatter(x=tt, y=render.as_array(n).astype(np.float64), mode="lines+markers", name=name,
                                 line=dict(color=PALETTE[i % len(PALETTE)]),
                                 hovertemplate=f"{name}<br>t = %{{x:.2f}}<br>|z| = %{{y:.2f}}<extra></extra>"))
    if prior_norm is not None:
        fig.add_hline(y=prior_norm, line=dict(color="grey", dash="dash"),
                      annotation_text="typical |z| of a prior sample (√D)", annotation_position="top left")
    if current_t is not None:
        fig.add_vline(x=current_t, line=dict(color="black", dash="dot"), annotation_text=f"t = {current_t:.2f}",
                      annotation_position="bottom right")
    fig.update_xaxes(title_text="position along the path t", range=[-0.02, 1.02])
    top = max([float(np.max(render.as_array(n))) for n in norms.values()] + [prior_norm or 0.0])
    fig.update_yaxes(title_text="latent norm |z|", range=[0, 1.2 * top])
    fig = _style(fig, title, 360, "a straight line between two codes passes closer to the origin than either end")
    fig.update_layout(legend=dict(title_text="interpolation", orientation="h", y=-0.25))
    return fig


def kl_figure(kl, active, *, title: str, order=None) -> go.Figure:
    """KL to the prior per latent dimension (bars, sorted by KL), active and inactive dimensions coloured apart."""
    kl_, act = render.as_array(kl).astype(np.float64), render.as_array(active).astype(bool)
    idx = np.argsort(-kl_) if order is None else render.as_array(order).astype(int)
    fig = go.Figure()
    for flag, name, color in ((True, "active", ACTIVE), (False, "inactive (collapsed to the prior)", INACTIVE)):
        sel = [i for i in idx if act[i] == flag]
        fig.add_trace(go.Bar(x=[f"z{i}" for i in sel], y=kl_[sel], name=name, marker_color=color,
                             hovertemplate="%{x}: KL %{y:.3f} nats<extra></extra>"))
    fig.update_xaxes(title_text="latent dimension (sorted by KL)", categoryorder="array",
                     categoryarray=[f"z{i}" for i in idx])
    fig.update_yaxes(title_text="mean KL to the prior (nats)", rangemode="tozero")
    fig = _style(fig, title, 340, "dimensions with ~0 KL carry no information about the input")
    fig.update_layout(legend=dict(orientation="h", y=-0.3), bargap=0.2)
    return fig


def latent_scatter(codes, labels, label_names: Sequence[str], *, title: str, dims: tuple[int, int] = (0, 1),
                   color_values=None, color_title: str = "") -> go.Figure:
    """Posterior means of many images in two latent dimensions, coloured by class (or a continuous factor).

    Args:
        codes: (N, D); labels: (N,) class indices into `label_names`.
        color_values: (N,) floats to colour by instead of the class (e.g. a sprite's x position).
    """
    z = render.as_array(codes).astype(np.float64)
    lab = np.asarray(labels)
    a, b = dims
    fig = go.Figure()
    if color_values is not None:
        fig.add_trace(go.Scattergl(x=z[:, a], y=z[:, b], mode="markers", name=color_title,
                                   marker=dict(size=5, color=np.asarray(color_values, dtype=np.float64),
                                               colorscale="Viridis", showscale=True,
                                               colorbar=_colorbar(color_title)),
                                   hovertemplate=f"{color_title} %{{marker.color:.2f}}<extra></extra>"))
    else:
        for k, name in enumerate(label_names):
            m = lab == k
            fig.add_trace(go.Scattergl(x=z[m, a], y=z[m, b], mode="markers", name=str(name),
                                       marker=dict(size=5, color=PALETTE[k % len(PALETTE)], opacity=0.75),
                                       hovertemplate=f"class {name}<br>z{a} %{{x:.2f}}, z{b} %{{y:.2f}}"
                                                     "<extra></extra>"))
    fig.update_xaxes(title_text=f"z{a} (posterior mean)", zeroline=True)
    fig.update_yaxes(title_text=f"z{b} (posterior mean)", zeroline=True, scaleanchor="x")
    fig = _style(fig, title, 520, "each dot is one held-out image; the prior N(0, I) is centred on the origin")
    fig.update_layout(legend=dict(title_text="class" if color_values is None else ""))
    return fig


def posterior_figure(mu, sigma, z, *, title: str, order=None, max_dims: int = 32) -> go.Figure:
    """One input's posterior per dimension (mu with ±sigma whiskers), the sampled codes, and the prior's ±1."""
    m, s, zz = (render.as_array(v).astype(np.float64) for v in (mu, sigma, z))
    idx = (np.arange(len(m)) if order is None else render.as_array(order).astype(int))[:max_dims]
    names = [f"z{i}" for i in idx]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[2.0] * len(idx), base=[-1.0] * len(idx), name="prior N(0, 1): ±1",
                         marker_color="rgba(180,180,180,0.35)", hoverinfo="skip", width=0.8))
    for j, row in enumerate(zz):
        fig.add_trace(go.Scatter(x=names, y=row[idx], mode="markers", name="draws z = μ + σ·ε",
                                 legendgroup="draws", showlegend=j == 0,
                                 marker=dict(size=6, color=PALETTE[1], opacity=0.6, symbol="circle-open"),
                                 hovertemplate=f"draw {j}<br>%{{x}} = %{{y:.2f}}<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=m[idx], mode="markers", name="posterior mean μ ± σ",
                             marker=dict(size=10, color=PALETTE[0], symbol="diamond"),
                             error_y=dict(type="data", array=s[idx], thickness=2, width=6),
                             hovertemplate="%{x}: μ = %{y:.2f}<br>σ = %{error_y.array:.2f}<extra></extra>"))
    fig.update_xaxes(title_text="latent dimension (sorted by KL)", categoryorder="array", categoryarray=names)
    fig.update_yaxes(title_text="value")
    fig = _style(fig, title, 380, "informative dimensions have a small σ and μ away from 0; collapsed ones "
                 "match the prior (μ ≈ 0, σ ≈ 1)")
    fig.update_layout(legend=dict(orientation="h", y=-0.3), barmode="overlay")
    return fig


def tradeoff_figure(betas, mse, kl, active, *, title: str, highlight: float | None = None) -> go.Figure:
    """Reconstruction error against KL for VAEs trained with different beta (the rate-distortion trade-off)."""
    b, e, k, a = (np.asarray(v, dtype=np.float64) for v in (betas, mse, kl, active))
    labels = [f"β={v:g}" for v in b]
    fig = go.Figure(go.Scatter(
        x=k, y=e, mode="lines+markers+text", text=labels, textposition="top center", name="bundled VAEs",
        marker=dict(size=[14 if highlight is not None and v == highlight else 9 for v in b], color=ACTIVE),
        line=dict(color="lightgrey"), customdata=np.stack([b, a], axis=1),
        hovertemplate="β = %{customdata[0]:g}<br>KL %{x:.2f} nats<br>MSE %{y:.4f}<br>"
                      "%{customdata[1]:.0f} active dims<extra></extra>"))
    fig.update_xaxes(title_text="KL(q(z|x) || p(z)) per image (nats): information in the code")
    fig.update_yaxes(title_text="held-out reconstruction MSE per pixel", range=[0, 1.2 * float(e.max())])
    fig.update_xaxes(range=[0.9 * float(k.min()), 1.08 * float(k.max())])
    fig = _style(fig, title, 420, "larger β pushes codes towards the prior: less information, blurrier "
                 "reconstructions, fewer active dimensions")
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.3))
    return fig


def bottleneck_figure(curves: dict[str, tuple[Sequence[int], Sequence[float]]], *, title: str) -> go.Figure:
    """Held-out reconstruction MSE against bottleneck size k, one line per method (AE, PCA, ...)."""
    fig = go.Figure()
    styles = {"PCA": dict(dash="dash", color="grey")}
    for i, (name, (ks, err)) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=list(ks), y=list(err), mode="lines+markers", name=name,
                                 line=styles.get(name, dict(color=PALETTE[i % len(PALETTE)])),
                                 hovertemplate=f"{name}<br>k = %{{x}}<br>MSE %{{y:.4f}}<extra></extra>"))
    fig.update_xaxes(title_text="bottleneck size k (latent dimensions / components)", type="log", dtick=math.log10(2))
    fig.update_yaxes(title_text="held-out reconstruction MSE per pixel", type="log")
    fig = _style(fig, title, 420, "same training images, same held-out images; lower is better")
    fig.update_layout(legend=dict(orientation="h", y=-0.3))
    return fig


def accuracy_figure(rows: Sequence[dict], *, title: str) -> go.Figure:
    """Held-out accuracy per model for classifiers on its code, on PCA with the same k, and on raw pixels.

    Args:
        rows: one dict per model: {"model": name, "code": acc, "PCA": acc, "pixels": acc}.
    """
    if not rows:
        raise InputError("No models to compare; pick at least one.")
    models = [r["model"] for r in rows]
    if len(set(models)) != len(models):
        raise InputError("Model names in an accuracy chart must be unique; they label the bars.")
    fig = go.Figure()
    for i, key in enumerate(("code", "PCA", "pixels")):
        label = {"code": "model's code (k dims)", "PCA": "PCA, same k", "pixels": "raw pixels"}[key]
        fig.add_trace(go.Bar(x=models, y=[r[key] for r in rows], name=label, marker_color=PALETTE[i],
                             text=[f"{r[key]:.0%}" for r in rows], textposition="outside", textfont_size=10,
                             hovertemplate=f"%{{x}}<br>{label}: %{{y:.1%}}<extra></extra>"))
    fig.update_xaxes(title_text="model (bottleneck size)")
    fig.update_yaxes(title_text="held-out accuracy", tickformat=".0%", range=[0, 1.08])
    fig = _style(fig, title, 420, "the same logistic regression on each feature set")
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=-0.3))
    return fig


def loss_curve_figure(history: Sequence[dict], *, title: str, total_steps: int | None = None) -> go.Figure:
    """Training loss (and its parts) against step."""
    fig = go.Figure()
    keys = [k for k in (history[0] if history else {}) if k != "step"]
    steps = [h["step"] for h in history]
    for i, k in enumerate(keys):
        fig.add_trace(go.Scatter(x=steps, y=[h[k] for h in history], mode="lines", name=k,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=3 if k == "loss" else 1.5),
                                 hovertemplate=f"step %{{x}}<br>{k} %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(title_text="optimiser step", range=[0, total_steps] if total_steps else None)
    fig.update_yaxes(title_text="loss per image (running mean)", rangemode="tozero")
    fig = _style(fig, title, 320)
    fig.update_layout(legend=dict(orientation="h", y=-0.35))
    return fig


def sparsity_figure(values, active_fraction, unit_frequency, *, title: str, threshold: float = 0.0) -> go.Figure:
    """Three panels: histogram of the active code values, share of units active per input, per-unit frequency.

    Args:
        values: codes (N, D) (only values above `threshold` enter the first histogram).
        active_fraction: (N,) share of units active per input; unit_frequency: (D,) share of inputs per unit.
    """
    v = render.as_array(values).astype(np.float64).ravel()
    on = v[v > threshold]
    freq = render.as_array(unit_frequency).astype(np.float64)
    order = np.argsort(-freq)
    dead = int((freq == 0).sum())
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=[
        f"active values ({on.size / max(1, v.size):.1%} of all)", "units active per input",
        f"how often each unit fires ({dead} dead)"])
    fig.add_trace(go.Histogram(x=on, nbinsx=50, marker_color=PALETTE[0], name="active code values",
                               hovertemplate="value %{x}<br>%{y} activations<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Histogram(x=render.as_array(active_fraction).astype(np.float64), nbinsx=30,
                               marker_color=PALETTE[2], name="inputs",
                               hovertemplate="%{x} of units active<br>%{y} inputs<extra></extra>"), row=1, col=2)
    colors = [INACTIVE if f == 0 else PALETTE[1] for f in freq[order]]
    fig.add_trace(go.Bar(x=np.arange(len(freq)), y=freq[order], marker_color=colors, name="units (grey: dead)",
                         customdata=order, hovertemplate="unit %{customdata}<br>active on %{y:.1%} of inputs"
                                                         "<extra></extra>"), row=1, col=3)
    fig.update_xaxes(title_text="code value", row=1, col=1)
    fig.update_yaxes(title_text="count (log)", type="log", dtick=1, row=1, col=1)
    fig.update_xaxes(title_text="share of units active", tickformat=".0%", row=1, col=2)
    fig.update_yaxes(title_text="inputs", row=1, col=2)
    fig.update_xaxes(title_text="unit, sorted by frequency", row=1, col=3)
    fig.update_yaxes(title_text="share of inputs", tickformat=".0%", row=1, col=3)
    fig = _style(fig, title, 380, f"held-out inputs; a unit is active above {threshold:g}")
    fig.update_layout(legend=dict(orientation="h", y=-0.3), bargap=0.05)
    return fig


def atom_figure(atom, *, title: str) -> go.Figure:
    """A linear decoder's column for one unit (its dictionary atom) as a signed heatmap."""
    a = render.as_array(atom).astype(np.float64)
    a = a[0] if a.ndim == 3 else a
    if a.ndim != 2:
        raise InputError(f"Expected an atom shaped (H, W) or (1, H, W); got {a.shape}.")
    peak = float(np.abs(a).max()) or 1.0
    fig = go.Figure(go.Heatmap(z=a, colorscale="RdBu", reversescale=True, zmid=0, zmin=-peak, zmax=peak,
                               colorbar=_colorbar("decoder<br>weight"),
                               hovertemplate="row %{y}, col %{x}<br>weight %{z:.3f}<extra></extra>"))
    h, w = a.shape
    fig.update_xaxes(title_text="pixel column", showgrid=False, range=[-0.5, w - 0.5], constrain="domain")
    fig.update_yaxes(title_text="pixel row", range=[h - 0.5, -0.5], scaleanchor="x", showgrid=False,
                     constrain="domain")
    return _style(fig, title, 380, "red adds ink where the unit fires,<br>blue removes it")
