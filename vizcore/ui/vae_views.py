"""The VAE latent space page's sections: each reads its own controls and draws from cached latent analyses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from vizcore import figures
from vizcore.analysis import latent
from vizcore.export import picture, render
from vizcore.ui import cache, notes, reuse
from vizcore.ui import flipbook as flip
from vizcore.ui.errors import inline_errors
from vizcore.ui.state import forget, keep
from vizcore.ui.widgets import UPLOAD_TYPES, uploaded

FRAMES = 101  # decoded interpolation frames (t in steps of 0.01), all sent once: the figure's slider picks one
FRAME_PX = 256
TABS = ["Interpolation", "Traversals", "Manifold and prior samples", "Reparameterisation", "β trade-off"]


@dataclass(frozen=True)
class Endpoint:
    """One interpolation endpoint: the image (1, C, H, W) as the model sees it, a caption and a cache key."""

    image: torch.Tensor
    caption: str
    key: str


def pick_endpoints(handle) -> tuple[Endpoint, Endpoint]:
    """Two endpoints from the held-out images (by class and example) or uploads."""
    side = st.sidebar
    side.markdown("**Endpoints** (A and B)")
    source = side.radio("Take endpoints from", ["Data set", "Upload"], horizontal=True,
                        key=keep("vae_src", "Data set", options=["Data set", "Upload"]))
    if source == "Upload":
        return _uploaded(handle, "A"), _uploaded(handle, "B")
    test = cache.ae_heldout(handle.dataset)
    names = list(test.label_names)
    return _from_dataset(handle, test, names, "A", 0), _from_dataset(handle, test, names, "B", min(1, len(names) - 1))


def _from_dataset(handle, test, names: list[str], which: str, default_class: int) -> Endpoint:
    c1, c2 = st.sidebar.columns(2)
    classes = list(range(len(names)))
    cls = c1.selectbox(f"{which}: class", classes, format_func=lambda i: names[i],
                       key=keep(f"vae_cls_{which}", default_class, options=classes))
    idx = np.flatnonzero(test.labels == cls)
    n = c2.number_input(f"{which}: example", 0, max(0, len(idx) - 1),
                        key=keep(f"vae_ex_{which}", 0, lo=0, hi=max(0, len(idx) - 1)),
                        help=f"{len(idx)} held-out images of this class")
    i = int(idx[min(int(n), len(idx) - 1)])
    return Endpoint(handle.prepare(test.images[i:i + 1]), f"{which}: {names[cls]} (held-out #{i})",
                    f"{test.name}:{i}")


def _uploaded(handle, which: str) -> Endpoint:
    up = st.sidebar.file_uploader(f"Image {which}", type=UPLOAD_TYPES, key=f"vae_up_{which}",
                                  help="Any picture; it is turned grey and resized to the model's input.")
    if up is None:
        st.info("Upload both endpoint images in the sidebar, or take them from the data set.")
        st.stop()
    picked = uploaded(up)
    image = picked.image
    notes.upscaled(f"Image {which} ({up.name})", image.size, handle.preprocess.size)
    grey = handle.prepare([image])
    key = f"vae_inv_{which}"
    if st.session_state.get(f"{key}_image") != picked.key:  # a new picture: start from what it looks like
        st.session_state[f"{key}_image"] = picked.key
        forget(key)
    invert = st.sidebar.checkbox(f"Invert {which} (dark ink on light paper)", key=keep(key, bool(grey.mean() > 0.5)),
                                 help="The models saw light shapes on black.")
    key = f"{picked.key[:16]}:{invert}"
    return Endpoint(handle.prepare([image], invert=invert), f"{which}: {up.name}", key)


def _png(image: torch.Tensor, side: int = FRAME_PX) -> bytes:
    """One (C, H, W) image as a crisp enlarged PNG."""
    u8 = render.as_uint8(image)
    return render.to_png(u8, scale=max(1, side // max(u8.shape[:2])))


def interpolation(handle, spec: str, pretrained: bool, a: Endpoint, b: Endpoint) -> None:
    st.subheader("Walk from A to B through the latent space")
    z0, z1 = handle.encode(a.image)[0], handle.encode(b.image)[0]
    _outside_prior(handle.latent_dim, {"A": z0, "B": z1})
    paths = cache.latent_paths(spec, pretrained, f"{a.key}|{b.key}", z0, z1, FRAMES)
    c1, c2 = st.columns([1, 2])
    method = c1.radio("Interpolation", latent.METHODS, horizontal=True,
                      key=keep("vae_method", latent.METHODS[0], options=latent.METHODS),
                      format_func={"slerp": "spherical (slerp)", "lerp": "linear (lerp)"}.get,
                      help="slerp turns the direction along a great circle and changes the norm linearly; lerp "
                           "takes the straight line, which passes closer to the origin.")
    n = c2.slider("Frames in the strip and the GIF", 3, 21, step=1, key=keep("vae_frames", 9, lo=3, hi=21))
    _frame_view(handle, paths, method, a, b, (spec, pretrained, a.key, b.key))
    path = paths[method]
    pick = np.linspace(0, FRAMES - 1, n).round().astype(int)
    st.plotly_chart(figures.image_grid(
        path.images[pick], title=f"{n} frames from A to B ({method})", row_labels=[method],
        col_labels=[f"t={path.t[i]:.2f}" for i in pick], x_title="position along the path t", y_title="method",
        subtitle="t = 0 decodes A's code, t = 1 decodes B's code"), width="stretch", key="vae_strip")
    model = handle.info.title + ("" if pretrained else " (random weights)")

    def gif() -> bytes:  # the strip's frames, each as large as the decoded frame above (FRAME_PX), titled
        return picture.titled_gif(path.images[pick], title=f"{n} frames from A to B ({method})",
                                  lines=[model, f"{a.caption} → {b.caption}"],
                                  labels=[f"t = {path.t[i]:.2f} · |z| = {path.norms[i]:.2f}" for i in pick],
                                  side=FRAME_PX)

    st.download_button("Download the walk as an animated GIF", gif, f"latent_walk_{method}.gif", "image/gif",
                       key="vae_gif", on_click="ignore")


def _outside_prior(dim: int, codes: dict) -> None:
    """Warn about endpoints whose code lies where almost no prior sample does (the decoder never learned there)."""
    limit = latent.prior_norm_limit(dim)
    for name, z in codes.items():
        norm = float(z.norm())
        if norm > limit:
            st.warning(f"Endpoint {name}'s code is far outside the prior: |z| = {norm:.1f}, while "
                       f"{latent.PRIOR_QUANTILE:.0%} of prior samples z ~ N(0, I) have |z| ≤ {limit:.1f} (typical "
                       f"√D = {dim ** 0.5:.1f} for D = {dim}). The decoder was never trained on codes like this, so "
                       f"what it draws for {name}, and along the path near {name}, is not a learned image.",
                       icon=":material/warning:")


def _frame_view(handle, paths: dict, method: str, a: Endpoint, b: Endpoint, ident: tuple) -> None:
    """The endpoints and every decoded frame of the path in a flip-book: its slider switches frames in the browser
    (no rerun), and its title (t and |z|) changes with the picture. The frames are sent once per `ident` and
    method; the t the user settled on is kept when the endpoints or the method change."""
    path = paths[method]
    c1, c2, c3, c4 = st.columns([1, 1, 2.2, 3.4])
    c1.image(reuse.figure((*ident, "A"), lambda: _png(a.image[0], 128)), caption=a.caption)
    c2.image(reuse.figure((*ident, "B"), lambda: _png(b.image[0], 128)), caption=b.caption)
    t, norms = path.t.tolist(), path.norms.tolist()
    pages = reuse.figure((*ident, method, "flipbook"), lambda: flip.book(
        [flip.Page(f"{t[i]:.2f}", f"decoded frame at t = {t[i]:.2f} · |z| = {norms[i]:.2f}<small>{method} path; "
                   "every frame is decoded already</small>", [flip.png(path.images[i])]) for i in range(FRAMES)],
        panels=[""], label="t (0 = A, 1 = B)", side=FRAME_PX))
    with c3:
        flip.flipbook(pages, key="vae_t", default=FRAMES // 2)
    c4.plotly_chart(reuse.figure((*ident, "norms"), lambda: figures.norm_path_figure(
        path.t, {m: p.norms for m, p in paths.items()}, title="Latent norm along the paths",
        prior_norm=float(np.sqrt(handle.latent_dim)))), width="stretch", key="vae_norms")


def traversals(handle, spec: str, pretrained: bool, a: Endpoint) -> None:
    st.subheader("Latent traversals: one dimension at a time")
    s = cache.latent_summary(spec, pretrained)
    stats = s.stats
    c1, c2 = st.columns(2)
    span = c1.slider("Sweep each dimension from −x to +x (prior standard deviations)", 1.0, 4.0, step=0.5,
                     key=keep("vae_span", 3.0, lo=1.0, hi=4.0))
    steps = c2.slider("Steps per row", 5, 15, step=2, key=keep("vae_tsteps", 9, lo=5, hi=15))
    tr = latent.traverse(handle, handle.encode(a.image)[0], stats, span=span, steps=steps)
    labels = [f"z{d} · KL {k:.2f}" + ("" if act else " · inactive") for d, k, act in
              zip(tr.dims.tolist(), tr.kl.tolist(), tr.active.tolist())]
    st.plotly_chart(figures.image_grid(
        tr.images, title=f"Traversals around A's code, rows sorted by KL ({stats.num_active} of "
                         f"{handle.latent_dim} dimensions active)",
        subtitle="grey rows: inactive dimensions (posterior mean barely varies over the data), "
                 "the decoder ignores them", row_labels=labels,
        col_labels=[f"{v:+.3g}σ" for v in tr.values.tolist()], muted_rows=[not x for x in tr.active.tolist()],
        x_title="value of the swept dimension", y_title="dimension · KL (nats)"), width="stretch", key="vae_trav")
    st.plotly_chart(figures.kl_figure(stats.kl, stats.active, order=stats.order,
                                      title="KL to the prior per dimension (held-out images)"), width="stretch",
                    key="vae_kl")
    st.caption(f"Active = the posterior mean varies over the held-out images (Var μ > {latent.ACTIVE_VARIANCE}, "
               "Burda et al. 2016). Other dimensions stay at the prior for every input.")


def manifold(handle, spec: str, pretrained: bool) -> None:
    st.subheader("The learned manifold and samples from the prior")
    s = cache.latent_summary(spec, pretrained)
    order = s.stats.order.tolist() if s.stats is not None else list(range(handle.latent_dim))
    D = handle.latent_dim
    if D < 2:
        st.info("This VAE has a 1-d latent: there is no 2-D grid to draw. The traversal tab shows its one axis.")
        return
    c1, c2, c3 = st.columns(3)
    n = c1.slider("Grid size", 5, 25, step=1, key=keep("vae_grid", 15, lo=5, hi=25))
    dims = list(range(D))
    dx = c2.selectbox("x axis", dims, format_func=lambda d: f"z{d}", key=keep("vae_dx", order[0], options=dims))
    dy = c3.selectbox("y axis", dims, format_func=lambda d: f"z{d}", key=keep("vae_dy", order[1], options=dims))
    with inline_errors():
        mf = latent.manifold(handle, n, dims=(dx, dy))
    vals = mf.values.tolist()
    other = "" if D == 2 else f"<br>the other {D - 2} dimensions are held at 0 (the prior mean)"
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.image_grid(
        mf.images, title=f"Decoded grid over z{dx} and z{dy}", height=680,
        subtitle=f"coordinates: Gaussian quantiles of 5%…95% (Kingma & Welling Fig. 4){other}",
        row_labels=[f"{v:+.2f}" for v in reversed(vals)], col_labels=[f"{v:+.2f}" for v in vals],
        x_title=f"z{dx}", y_title=f"z{dy}"), width="stretch", key="vae_manifold")
    colour = _colour_choice(handle, right)
    factors = cache.sprite_factors() if colour not in (None, "class") else None
    right.plotly_chart(figures.latent_scatter(
        s.codes, s.labels, s.label_names, dims=(dx, dy), title="Where the held-out images sit (μ)",
        color_values=None if factors is None else factors[colour], color_title=colour or ""), width="stretch",
        key="vae_scatter")
    st.markdown("**Samples from the prior** z ~ N(0, I)")
    c1, c2 = st.columns([1, 4])
    k = c1.slider("Samples", 4, 32, step=4, key=keep("vae_nprior", 16, lo=4, hi=32))
    seed = c1.number_input("Seed", 0, 10_000, key=keep("vae_seed", 0, lo=0, hi=10_000))
    _, imgs = latent.prior_samples(handle, k, seed=int(seed))
    per_row = min(8, k)
    c2.plotly_chart(figures.image_grid(
        imgs.reshape(-1, per_row, *imgs.shape[1:]), title=f"{k} decoded prior samples (seed {seed})",
        row_labels=[f"{r * per_row + 1}-{(r + 1) * per_row}" for r in range(k // per_row)],
        col_labels=[str(c + 1) for c in range(per_row)], x_title="sample", y_title="samples",
        subtitle="a good VAE decodes random prior codes into plausible images"), width="stretch", key="vae_prior")


def _colour_choice(handle, where) -> str | None:
    if handle.dataset != "sprites":
        return None
    return where.radio("Colour the held-out codes by", ["class", "x", "y", "scale"], horizontal=True,
                       key=keep("vae_colour", "class", options=["class", "x", "y", "scale"]),
                       help="sprites have known factors: which ones did the axes pick up?")


def reparameterisation(handle, a: Endpoint) -> None:
    st.subheader("The reparameterisation trick: z = μ + σ · ε")
    c1, c2 = st.columns(2)
    k = c1.slider("Draws of ε ~ N(0, I)", 2, 16, step=1, key=keep("vae_draws", 8, lo=2, hi=16))
    seed = c2.number_input("Seed of the draws", 0, 10_000, key=keep("vae_rseed", 0, lo=0, hi=10_000))
    r = latent.reparameterise(handle, a.image, k, seed=int(seed))
    s_order = torch.argsort(-latent.kl_divergence(r.mu, 2 * r.sigma.log()))
    st.plotly_chart(figures.posterior_figure(r.mu, r.sigma, r.z, order=s_order,
                                             title=f"q(z | {a.caption.split(': ', 1)[-1]}): μ, σ and {k} draws"),
                    width="stretch", key="vae_post")
    row = torch.cat([a.image, r.mean_image[None], r.images])  # (K + 2, C, H, W)
    st.plotly_chart(figures.image_grid(
        row, title="The input, the decode of μ, and the decodes of each draw", row_labels=["A"],
        col_labels=["input", "decode(μ)"] + [f"draw {j}" for j in range(k)], x_title="image", y_title="endpoint",
        subtitle="training decodes random draws, so nearby codes must decode to similar images"),
        width="stretch", key="vae_draw_imgs")
    st.caption("Sampling ε outside the network keeps the path from μ and σ to the loss differentiable: gradients "
               "flow into the encoder through z = μ + σ·ε (Kingma & Welling 2014).")


def tradeoff(handle, spec: str, pretrained: bool) -> None:
    st.subheader("β trade-off: reconstruction against information in the code")
    family = [s for s in cache.model_specs("vae") if _same_family(cache.model(s, True), handle)]
    if len(family) < 2:
        st.info("The bundled models trained at several β values are the 10-d sprites VAEs; pick one of them in the "
                "sidebar to compare β.")
        return
    test = cache.ae_heldout(handle.dataset)
    rows = cache.beta_rows(tuple(family))
    st.plotly_chart(figures.tradeoff_figure(
        [r.beta for r in rows], [r.mse for r in rows], [r.kl for r in rows], [r.active for r in rows],
        title="Held-out reconstruction error vs KL for each β", highlight=handle.card.get("recipe", {}).get("beta")),
        width="stretch", key="vae_tradeoff")
    idx = np.array([int(np.flatnonzero(test.labels == c)[j]) for j in range(3) for c in range(len(test.label_names))])
    x = test.images[idx]
    rows_img = torch.stack([x] + [cache.model(r.spec, True).reconstruct(x) for r in rows])
    st.plotly_chart(figures.image_grid(
        rows_img, title="The same held-out images reconstructed at each β",
        row_labels=["input"] + [f"β={r.beta:g}" for r in rows], x_title="held-out example", y_title="model",
        col_labels=[str(i) for i in idx], subtitle="higher β: blurrier, fewer details, more 'average' shapes"),
        width="stretch", key="vae_beta_imgs")
    st.dataframe([{"β": r.beta, "held-out MSE": round(r.mse, 5), "KL (nats)": round(r.kl, 2),
                   "active dims": r.active} for r in rows], hide_index=True)


def _same_family(other, handle) -> bool:
    return other.dataset == handle.dataset and other.latent_dim == handle.latent_dim and other.cfg == handle.cfg
