"""Plotly figures for "Inside a block": one function per step of the ViT computation, trace in, `go.Figure` out.

Each takes the dataclasses of `vizcore.analysis.trace` (`InputTrace`, `BlockTrace`, `HeadTrace`, `GradNorms`) and
draws ONE image of the batch (`image`). Signed values (features, q, k, v) use a diverging scale centred on 0;
attention uses Viridis (never inferno / magma, whose first stop Streamlit's theme rewrites).
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vizcore.analysis.trace import BlockTrace, GradNorms, HeadTrace, InputTrace, softmax_entropy
from vizcore.errors import InputError
from vizcore.export import render
from vizcore.figures._common import IMAGE_SIDE, _colorbar, _heatmap, _image_trace, _style

DIVERGING = "RdBu_r"  # blue negative, white 0, red positive
SEQUENTIAL = "Viridis"
BLUE, ORANGE, RED, GREY = "#4C78A8", "#F58518", "#E45756", "#9D9D9D"


def _pick(value: int, n: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise InputError(f"{what.capitalize()} {value!r} does not exist; pick one in 0..{n - 1}.")
    return int(value)


def _names(layout) -> list[str]:
    return [layout.token_name(i) for i in range(layout.num_tokens)]


def _picture_axes(fig: go.Figure, hw: tuple[int, int], row: int, col: int) -> None:
    """One subplot as an image: no ticks, square pixels, row 0 at the top."""
    hidden = dict(showticklabels=False, ticks="", showgrid=False, zeroline=False, constrain="domain")
    fig.update_xaxes(range=[-0.5, hw[1] - 0.5], row=row, col=col, **hidden)
    sub = fig.get_subplot(row, col)
    fig.update_yaxes(range=[hw[0] - 0.5, -0.5], scaleanchor=sub.xaxis.plotly_name.replace("axis", ""), row=row,
                     col=col, **hidden)


def _outline(fig: go.Figure, r: int, c: int, ph: int, pw: int, **where) -> None:
    for color, width in (("black", 5), ("white", 2)):  # visible on any image
        fig.add_shape(type="rect", x0=c * pw - 0.5, x1=(c + 1) * pw - 0.5, y0=r * ph - 0.5, y1=(r + 1) * ph - 0.5,
                      line=dict(color=color, width=width), **where)


def patch_grid_figure(inp: InputTrace, *, patch: int = 0, image: int = 0, title: str | None = None) -> go.Figure:
    """Step 1: the image cut into P x P patches (grid lines), and one patch flattened into C*P*P numbers.

    The flattened vector is drawn as C rows of P*P (row-major pixels), the order the conv weight reads them.
    """
    lay = inp.layout
    (gh, gw), (ph, pw) = lay.grid, lay.patch_size
    patch = _pick(patch, lay.num_patches, "patch")
    rgb = render.as_uint8(inp.image[image])
    vec = inp.patches[image, patch].numpy()  # (C*P*P,)
    C = vec.size // (ph * pw)
    r, c = divmod(patch, gw)
    fig = make_subplots(rows=1, cols=2, column_widths=[0.38, 0.62], horizontal_spacing=0.08, subplot_titles=[
        f"{gh} x {gw} patches of {ph} x {pw} px", f"patch ({r}, {c}) flattened: {C} x {ph * pw} = {vec.size} numbers"])
    fig.add_trace(_image_trace(rgb, IMAGE_SIDE), row=1, col=1)
    for i in range(1, gh):
        fig.add_shape(type="line", x0=-0.5, x1=gw * pw - 0.5, y0=i * ph - 0.5, y1=i * ph - 0.5,
                      line=dict(color="white", width=1), row=1, col=1)
    for j in range(1, gw):
        fig.add_shape(type="line", y0=-0.5, y1=gh * ph - 0.5, x0=j * pw - 0.5, x1=j * pw - 0.5,
                      line=dict(color="white", width=1), row=1, col=1)
    _outline(fig, r, c, ph, pw, row=1, col=1)
    _picture_axes(fig, rgb.shape[:2], 1, 1)
    channels = ["R", "G", "B"] if C == 3 else [f"channel {i}" for i in range(C)]
    fig.add_trace(go.Heatmap(z=vec.reshape(C, ph * pw), y=channels, colorscale=SEQUENTIAL,
                             colorbar=_colorbar("normalised<br>pixel value"),
                             hovertemplate="%{y}, pixel %{x} (row·P + col)<br>value %{z:.3g}<extra></extra>"),
                  row=1, col=2)
    fig.update_xaxes(title_text=f"pixel within the patch (row x {pw} + column)", row=1, col=2)
    fig.update_yaxes(title_text="channel", autorange="reversed", row=1, col=2)
    return _style(fig, title or f"The image as {lay.num_patches} patches, each a vector of {vec.size} numbers", 380,
                  "pixels after the model's normalisation, flattened channel by channel as the convolution reads them")


def patch_embedding_figure(inp: InputTrace, *, image: int = 0, title: str | None = None,
                           max_points: int = 20000) -> go.Figure:
    """Step 2: the patch convolution equals flatten + matrix product: every output value, conv vs matmul."""
    conv = inp.projected[image].numpy().ravel()  # (L*D,)
    mm = inp.projected_matmul[image].numpy().ravel()
    diff = float(np.abs(conv - mm).max())
    rng = np.random.default_rng(0)  # a fixed sample of the points keeps big models light; the max uses them all
    keep = rng.choice(conv.size, max_points, replace=False) if conv.size > max_points else slice(None)
    lo, hi = float(min(conv.min(), mm.min())), float(max(conv.max(), mm.max()))
    fig = go.Figure([
        go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line=dict(color=GREY, dash="dash")),
        go.Scattergl(x=conv[keep], y=mm[keep], mode="markers", name="one output value (patch, feature)",
                     marker=dict(size=4, color=BLUE, opacity=0.5),
                     hovertemplate="conv %{x:.4g}<br>matmul %{y:.4g}<extra></extra>")])
    L, D = inp.projected.shape[1:]
    fig.update_xaxes(title_text="convolution output (the model's patch_embed)")
    fig.update_yaxes(title_text="flattened patch @ Wᵀ + b")
    fig = _style(fig, title or "Patch embedding: the convolution is a matrix product on flattened patches", 460,
                 f"[{L} x {inp.patches.shape[-1]}] @ [{inp.patches.shape[-1]} x {D}] = [{L} x {D}] · "
                 f"max |conv − matmul| = {diff:.2g}")
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"))
    return fig


def token_sequence_figure(inp: InputTrace, *, image: int = 0, title: str | None = None) -> go.Figure:
    """Step 3: projected patches + position embeddings, prefix tokens prepended: the N x D sequence for block 0."""
    lay = inp.layout
    p, names = lay.num_prefix_tokens, _names(lay)
    panels = [("projected patches", inp.projected[image], names[p:]),
              ("+ position embedding", inp.pos_embed, names[p:]),
              (f"= tokens entering block 0 (N = {lay.num_patches} + {p})", inp.tokens[image], names)]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[t for t, _, _ in panels], horizontal_spacing=0.06)
    lim = max(float(np.abs(v.numpy()).max()) for _, v, _ in panels) or 1.0
    for col, (_, values, rows) in enumerate(panels, start=1):
        fig.add_trace(go.Heatmap(z=values.numpy(), y=rows, coloraxis="coloraxis",
                                 hovertemplate="%{y}, feature %{x}<br>%{z:.3g}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="feature (D)", row=1, col=col)
        fig.update_yaxes(title_text="" if col == 2 else "token" if col == 3 else "patch token", autorange="reversed",
                         type="category", showticklabels=len(rows) <= 40 and col != 2, row=1, col=col)  # 2: as 1
    fig.update_layout(coloraxis=dict(colorscale=DIVERGING, cmid=0, cmin=-lim, cmax=lim, colorbar=_colorbar("value")))
    prefix = ", ".join(lay.prefix_names) or "none"
    return _style(fig, title or "Position embeddings added, prefix tokens prepended", 460,
                  f"prefix tokens: {prefix}; the prefix rows include their position rows where the model adds them")


def layernorm_figure(trace: BlockTrace, *, token: int = 0, image: int = 0, title: str | None = None) -> go.Figure:
    """Step 4: norm1 on one token (before, after, gamma, beta), LayerNorm's per-token statistics, and what
    BatchNorm would normalise over instead on this same (B, N, D) tensor: each feature over the batch axis."""
    token = _pick(token, trace.layout.num_tokens, "token")
    x = trace.x_in.double().numpy()  # (B, N, D)
    t = x[image, token]
    mean, var = x[image].mean(-1), x[image].var(-1)  # (N,) LayerNorm: over the features of each token
    bmean, bvar = x.mean((0, 1)), x.var((0, 1))  # (D,) BatchNorm: each feature over images and tokens
    names, feats = _names(trace.layout), np.arange(t.size)
    fig = make_subplots(rows=2, cols=2, vertical_spacing=0.2, horizontal_spacing=0.1, subplot_titles=[
        f"{names[token]}: features before and after norm1", "norm1's learned gamma (scale) and beta (shift)",
        "LayerNorm: a mean and variance per token (over D)",
        f"BatchNorm: a mean and variance per feature<br>(over B x N = {x.shape[0]} x {x.shape[1]})"])
    lines = [(t, "before (x_in)", GREY, 1, 1), (trace.ln1[image, token].numpy(), "after (norm1 output)", BLUE, 1, 1),
             (trace.ln1_gamma.numpy(), "gamma", ORANGE, 1, 2), (trace.ln1_beta.numpy(), "beta", RED, 1, 2),
             (bmean, "batch mean per feature", BLUE, 2, 2), (bvar, "batch variance per feature", ORANGE, 2, 2)]
    for y, name, color, row, col in lines:
        fig.add_trace(go.Scatter(x=feats, y=y, name=name, mode="lines", line=dict(color=color, width=1.5)),
                      row=row, col=col)
    fig.add_trace(go.Bar(x=names, y=mean, name="token mean", marker_color=BLUE), row=2, col=1)
    fig.add_trace(go.Bar(x=names, y=var, name="token variance", marker_color=ORANGE), row=2, col=1)
    for row, col, xt, yt in ((1, 1, "feature", "value"), (1, 2, "feature", "weight"), (2, 1, "token", "statistic"),
                             (2, 2, "feature", "statistic")):
        fig.update_xaxes(title_text=xt, row=row, col=col)
        fig.update_yaxes(title_text=yt, row=row, col=col)
    fig.update_xaxes(type="category", showticklabels=len(names) <= 30, row=2, col=1)
    fig = _style(fig, title or f"LayerNorm (block {trace.layer}): each token normalised over its own features", 640,
                 f"{names[token]}: mean {mean[token]:.3g}, variance {var[token]:.3g} → standardised to 0 and 1, "
                 "then x gamma + beta; BatchNorm would normalise each feature across the batch instead")
    fig.update_layout(barmode="group", legend=dict(orientation="h", yanchor="top", y=-0.12, x=0))
    return fig


def qkv_figure(trace: BlockTrace, *, head: int = 0, image: int = 0, title: str | None = None) -> go.Figure:
    """Step 5: one head's q, k, v (N x d each), cut from the fused qkv Linear's output."""
    head = _pick(head, trace.num_heads, "head")
    names, (N, three_d) = _names(trace.layout), tuple(trace.qkv.shape[1:])
    mats = [(n, getattr(trace, n)[image, head].numpy()) for n in ("q", "k", "v")]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[f"{n} (head {head})" for n, _ in mats], shared_yaxes=True,
                        horizontal_spacing=0.03)
    lim = max(float(np.abs(m).max()) for _, m in mats) or 1.0
    for col, (n, m) in enumerate(mats, start=1):
        fig.add_trace(go.Heatmap(z=m, y=names, coloraxis="coloraxis", name=n,
                                 hovertemplate=f"{n}: %{{y}}, dim %{{x}}<br>%{{z:.3g}}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text=f"dimension within the head (d = {trace.head_dim})", row=1, col=col)
    fig.update_yaxes(title_text="token", autorange="reversed", type="category", showticklabels=N <= 40, row=1, col=1)
    fig.update_layout(coloraxis=dict(colorscale=DIVERGING, cmid=0, cmin=-lim, cmax=lim, colorbar=_colorbar("value")))
    h, d = trace.num_heads, trace.head_dim
    sub = (f"fused qkv Linear: [B, {N}, {three_d}] → reshape [B, {N}, 3, {h}, {d}] → q, k, v each [B, {h}, {N}, {d}]"
           + (" · q and k after qk-norm" if trace.qk_norm else ""))
    return _style(fig, title or f"Queries, keys and values of head {head} (block {trace.layer})", 460, sub)


def score_steps_figure(trace: BlockTrace, *, head: int = 0, query: int = 0, image: int = 0,
                       title: str | None = None) -> go.Figure:
    """Step 6: for one query, q·k against every key, x 1/sqrt(d_k), then the softmax (with the uniform 1/N line)."""
    head, query = _pick(head, trace.num_heads, "head"), _pick(query, trace.layout.num_tokens, "query token")
    names = _names(trace.layout)
    scaled = trace.scores[image, head, query].numpy()  # (N,)
    attn = trace.attn[image, head, query].numpy()
    steps = [("q · k", scaled / trace.scale, GREY), (f"x scale 1/√d = {trace.scale:.4g}", scaled, ORANGE),
             ("softmax: attention weights", attn, BLUE)]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[s for s, _, _ in steps])
    for row, (label, y, color) in enumerate(steps, start=1):
        fig.add_trace(go.Bar(x=names, y=y, name=label, marker_color=color,
                             hovertemplate="key %{x}<br>%{y:.4g}<extra></extra>"), row=row, col=1)
        fig.update_yaxes(title_text="weight" if row == 3 else "score", row=row, col=1)
    n = len(names)
    fig.add_hline(y=1 / n, line=dict(color=RED, dash="dash"), annotation_text=f"uniform 1/N = {1 / n:.3g}",
                  annotation_position="top right", row=3, col=1)
    fig.update_xaxes(type="category", showticklabels=n <= 40, row=3, col=1, title_text="key token")
    fig = _style(fig, title or f"Query {names[query]}: scores, scale, softmax (head {head}, block {trace.layer})",
                 620, f"the weights sum to 1; the largest is {attn.max():.3g} ({attn.max() * n:.1f}x uniform)")
    fig.update_layout(showlegend=False)
    return fig


def attention_row_figure(trace: BlockTrace, *, head: int = 0, query: int = 0, image: int = 0,
                         title: str | None = None, opacity: float = 0.6) -> go.Figure:
    """Step 6: the query's softmax row over the image's patch grid; the colour bar names the uniform level 1/N."""
    head, query = _pick(head, trace.num_heads, "head"), _pick(query, trace.layout.num_tokens, "query token")
    lay = trace.layout
    p, (gh, gw), (ph, pw) = lay.num_prefix_tokens, lay.grid, lay.patch_size
    row = trace.attn[image, head, query].numpy()  # (N,)
    rgb = render.grey(trace.image[image])  # a coloured image would tint the map (yellow on red: orange)
    fig = make_subplots(rows=1, cols=1)
    fig.add_trace(_image_trace(rgb, IMAGE_SIDE))
    fig.add_trace(_heatmap(row[p:].reshape(gh, gw), (gh * ph, gw * pw), "nearest", opacity=opacity, zmin=0,
                           colorscale=SEQUENTIAL, colorbar=_colorbar(f"attention<br>(uniform {1 / row.size:.3g})")))
    if query >= p:
        _outline(fig, *divmod(query - p, gw), ph, pw)
    _picture_axes(fig, rgb.shape[:2], 1, 1)
    prefix = ", ".join(f"{n} {row[i]:.1%}" for i, n in enumerate(lay.prefix_names))
    return _style(fig, title or f"Where {lay.token_name(query)} looks (head {head}, block {trace.layer})", 520,
                  f"attention on prefix tokens: {prefix or 'none'} · outlined: the query patch · image in grey")


def scale_entropy_figure(trace: BlockTrace, *, head: int = 0, query: int = 0, image: int = 0,
                         title: str | None = None) -> go.Figure:
    """Why 1/sqrt(d_k): entropy of every query's softmax with and without the scale, and this query's two rows."""
    head, query = _pick(head, trace.num_heads, "head"), _pick(query, trace.layout.num_tokens, "query token")
    names = _names(trace.layout)
    scaled = trace.scores[image, head]  # (N, N)
    with_s, without = softmax_entropy(scaled).numpy(), softmax_entropy(scaled / trace.scale).numpy()  # (N,)
    rows = scaled[query].softmax(-1).numpy(), (scaled[query] / trace.scale).softmax(-1).numpy()
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, subplot_titles=[
        "softmax entropy of every query (nats)", f"{names[query]}'s attention with and without the scale"])
    for (label, ent, row, color) in (("with 1/√d (as the model runs)", with_s, rows[0], BLUE),
                                     ("without: softmax(q·k)", without, rows[1], RED)):
        fig.add_trace(go.Scatter(x=names, y=ent, mode="lines+markers", name=label, line=dict(color=color),
                                 legendgroup=label), row=1, col=1)
        fig.add_trace(go.Bar(x=names, y=row, name=label, marker_color=color, legendgroup=label, showlegend=False),
                      row=1, col=2)
    log_n = math.log(len(names))
    fig.add_hline(y=log_n, line=dict(color=GREY, dash="dash"), annotation_text=f"uniform: log N = {log_n:.2f}",
                  row=1, col=1)
    fig.update_xaxes(type="category", showticklabels=len(names) <= 30, title_text="query token", row=1, col=1)
    fig.update_xaxes(type="category", showticklabels=len(names) <= 30, title_text="key token", row=1, col=2)
    fig.update_yaxes(title_text="entropy (nats)", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="attention weight", row=1, col=2)
    fig = _style(fig, title or f"Why divide by √d_k = √{trace.head_dim}: it keeps the softmax from saturating", 460,
                 f"mean entropy {with_s.mean():.2f} nats with the scale, {without.mean():.2f} without "
                 f"(head {head}, block {trace.layer}); lower = more one-hot, smaller gradients")
    fig.update_layout(barmode="group", legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    return fig


def residual_figure(trace: BlockTrace, *, image: int = 0, title: str | None = None) -> go.Figure:
    """Step 7-8: each token's L2 norm entering the block, after the attention residual and after the MLP residual,
    with the norms of the two updates the block adds."""
    names = _names(trace.layout)
    norm = lambda t: t[image].norm(dim=-1).numpy()  # noqa: E731  (N,)
    series = (("x_in (entering)", norm(trace.x_in), GREY, "solid"),
              ("resid1 = x_in + attention", norm(trace.resid1), ORANGE, "solid"),
              ("x_out = resid1 + MLP", norm(trace.x_out), BLUE, "solid"),
              ("attention update", norm(trace.attn_out), ORANGE, "dot"),
              ("MLP update", norm(trace.x_out - trace.resid1), BLUE, "dot"))
    fig = go.Figure([go.Scatter(x=names, y=y, name=n, mode="lines+markers", line=dict(color=c, dash=d))
                     for n, y, c, d in series])
    fig.update_xaxes(title_text="token", type="category", showticklabels=len(names) <= 40)
    fig.update_yaxes(title_text="L2 norm of the token", rangemode="tozero")
    fig = _style(fig, title or f"The residual stream through block {trace.layer}", 440,
                 "solid: the stream; dotted: what attention and the MLP add to it")
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, x=0))
    return fig


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def mlp_figure(trace: BlockTrace, *, token: int = 0, image: int = 0, title: str | None = None) -> go.Figure:
    """Step 8: one token's fc1 pre-activations (negatives marked) and what GELU vs ReLU does to them."""
    token = _pick(token, trace.layout.num_tokens, "token")
    pre, post = trace.fc1[image, token].numpy(), trace.act[image, token].numpy()  # (hidden,)
    neg = pre < 0
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1, column_widths=[0.55, 0.45], subplot_titles=[
        f"fc1 pre-activations of {trace.layout.token_name(token)} ({pre.size} = hidden width)",
        "activation: GELU vs ReLU, and this token's values"])
    for mask, label, color in ((~neg, "positive", BLUE), (neg, "negative", RED)):
        fig.add_trace(go.Bar(x=np.flatnonzero(mask), y=pre[mask], name=f"{label} pre-activation", marker_color=color,
                             hovertemplate="unit %{x}<br>%{y:.3g}<extra></extra>"), row=1, col=1)
    grid = np.linspace(min(pre.min(), -3.0), max(pre.max(), 3.0), 200)
    fig.add_trace(go.Scatter(x=grid, y=np.maximum(grid, 0), name="ReLU", line=dict(color=GREY, dash="dash")),
                  row=1, col=2)
    fig.add_trace(go.Scatter(x=grid, y=_gelu(grid), name="GELU x·Φ(x)", line=dict(color=ORANGE)), row=1, col=2)
    fig.add_trace(go.Scatter(x=pre, y=post, mode="markers", name="this token (the block's activation)",
                             marker=dict(size=5, color=np.where(neg, RED, BLUE))), row=1, col=2)
    fig.update_xaxes(title_text="hidden unit", row=1, col=1)
    fig.update_yaxes(title_text="pre-activation", row=1, col=1)
    fig.update_xaxes(title_text="pre-activation", row=1, col=2)
    fig.update_yaxes(title_text="output", row=1, col=2)
    kept = post[neg]
    sub = (f"{neg.sum()} of {pre.size} negative ({neg.mean():.0%}): ReLU would zero them all; GELU keeps small "
           f"negative outputs (down to {kept.min() if kept.size else 0:.3g})")
    fig = _style(fig, title or f"MLP (block {trace.layer}): fc1 → GELU → fc2", 460, sub)
    fig.update_layout(bargap=0, legend=dict(orientation="h", yanchor="top", y=-0.2, x=0))
    return fig


def top_classes_figure(head: HeadTrace, *, image: int = 0, title: str | None = None) -> go.Figure:
    """Step 9: the top classes after final norm -> pooled token -> head, highest on top."""
    top = head.top[image]
    if not top:
        raise InputError("This model has no classifier head (its output is the pooled features), so there are no "
                         "classes to rank. Pick a model with a head, e.g. bundled:tiny_vit.")
    names, probs = [f"{n} ({i})" for i, n, _ in top], [p for _, _, p in top]
    fig = go.Figure(go.Bar(x=probs, y=names, orientation="h", marker_color=BLUE, text=[f"{p:.1%}" for p in probs],
                           textposition="outside", cliponaxis=False, hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_xaxes(title_text="probability (softmax of the logits)", range=[0, 1])
    fig.update_yaxes(title_text="class", autorange="reversed", type="category")
    fig = _style(fig, title or f"Prediction: top {len(top)} classes", 120 + 34 * len(top),
                 f"final norm → {head.pool} → head")
    fig.update_layout(showlegend=False, margin=dict(r=60))
    return fig


def grad_norms_figure(g: GradNorms, *, title: str | None = None) -> go.Figure:
    """Pre-LN vs Post-LN: gradient norm of each block's weights at initialisation, log scale (Xiong et al. 2020)."""
    layers = np.arange(len(g.pre_ln))
    fig = go.Figure([go.Scatter(x=layers, y=g.pre_ln, name="Pre-LN: x + f(LN(x)) (ViT, timm)", mode="lines+markers",
                                line=dict(color=BLUE)),
                     go.Scatter(x=layers, y=g.post_ln, name="Post-LN: LN(x + f(x)) (2017 Transformer)",
                                mode="lines+markers", line=dict(color=RED))])
    fig.update_xaxes(title_text="layer (block)", dtick=1)
    fig.update_yaxes(title_text="‖∂loss/∂W‖ of the block's weights", type="log")
    c = g.config
    init = "Xavier-uniform" if c.get("xavier", True) else "timm (std 0.02)"
    fig = _style(fig, title or "Gradient norms at initialisation: Pre-LN vs Post-LN", 440,
                 f"{len(layers)} blocks, D = {c['dim']}, {c['heads']} heads, batch {c['batch']} of {c['img_size']} px "
                 f"(patch {c['patch_size']}), {init} init, seed {c['seed']} · measured in {g.seconds:.1f} s")
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"))
    return fig
