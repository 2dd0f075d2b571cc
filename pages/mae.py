"""MAE reconstruction: hide most patches of an image and watch a masked autoencoder fill them in."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.ui import cache, notes, state, widgets  # noqa: E402
from vizcore.ui import mae_views as views  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("MAE reconstruction")
st.caption("A masked autoencoder (He et al., 2022) sees only a few patches of an image and predicts the pixels of "
           "all the others. Choose how many patches to hide and which ones, and compare its guess with the truth.")

choice = widgets.model_picker("mae")
state.keep_image_picker(widgets.sample_names())
picked = widgets.image_picker()
with inline_errors():
    handle = cache.model(choice.spec, choice.pretrained)
    views.require_decoder(handle)
if not choice.pretrained:
    st.warning("Random weights: this MAE is untrained, so its reconstructions are noise, not learned guesses.")
st.markdown(views.describe(handle))
notes.upscaled(picked.name, picked.image.size, handle.preprocess.size)
views.explore(choice, picked, handle)

