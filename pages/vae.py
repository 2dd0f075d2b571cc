"""VAE latent space: interpolate between two images, traverse dimensions, the 2-D manifold, sampling and beta."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.ui import cache, widgets  # noqa: E402
from vizcore.ui import vae_views as views  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("VAE latent space")
st.caption("A variational autoencoder squeezes each image into a few numbers (its code z) and learns to draw the "
           "image back from them. Walk between two codes, sweep one dimension at a time, map the whole space, and "
           "see how the weight β on the KL term trades detail for a tidier space.")

choice = widgets.model_picker("vae", label="VAE model", key="vae_model", default="bundled:vae_10d", free_text=False)
spec, pretrained = choice.spec, choice.pretrained
with inline_errors():
    handle = cache.model(spec, pretrained)
    a, b = views.pick_endpoints(handle)
if not pretrained:
    st.warning("Random weights: this VAE is untrained, so its decodes are noise patterns, not learned images.")
st.markdown(f"**{handle.info.title}** · {handle.latent_dim}-d latent · trained on `{handle.dataset}` · "
            f"{handle.info.description}")

tabs = st.tabs(views.TABS)
with inline_errors():
    with tabs[0]:
        views.interpolation(handle, spec, pretrained, a, b)
    with tabs[1]:
        views.traversals(handle, spec, pretrained, a)
    with tabs[2]:
        views.manifold(handle, spec, pretrained)
    with tabs[3]:
        views.reparameterisation(handle, a)
    with tabs[4]:
        views.tradeoff(handle, spec, pretrained)

