"""Attention: where a Vision Transformer looks, for a sample or uploaded image."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.ui import attention_views as views  # noqa: E402
from vizcore.ui import cache, state, widgets  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("Attention")
st.caption("Where each head of a Vision Transformer looks, how attention flows through the layers, and which "
           "patches drive a prediction. All maps are drawn on exactly the pixels the model saw, in grey unless "
           "you ask for colour (Display), so that every pixel keeps the hue of its colour on the bar.")

choice = widgets.model_picker("vit", "mae")  # an MAE encoder is a ViT
state.keep_image_picker(widgets.sample_names())
picked = widgets.image_picker()
image, image_name, key = picked.image, picked.name, picked.key
with inline_errors():
    handle = cache.model(choice.spec, choice.pretrained)
state.keep_fit_and_display(list(widgets.FITS) if handle.preprocess.dynamic_size else ["resize", "crop"])
fit = widgets.fit_picker(handle.preprocess.dynamic_size)
display = widgets.display_options()
with inline_errors():
    maps = cache.attention_maps(choice.spec, choice.pretrained, key, image, fit)

views.summary(handle, maps, image_name, image.size)
views.scale_picker()
view = views.View(handle, maps, display, choice, key, image, fit, image_name)
views.tabs(view)

