"""ViT anatomy: parameters, live tensor shapes, activations, attention distance and layer similarity."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.ui import anatomy_views as views  # noqa: E402
from vizcore.ui import cache, notes, state, widgets  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("ViT anatomy")
st.caption("Inside a Vision Transformer, computed live from the selected model: where its parameters are, the "
           "shape of every tensor through a block, and how its layers behave on real images.")

choice = widgets.model_picker("vit")
state.keep_image_picker([], key="set_source", default="All samples")
images, key = widgets.image_set_picker()
with inline_errors():
    handle = cache.model(choice.spec, choice.pretrained)
block = st.sidebar.slider("Block for the shape walk-through", 0, handle.num_layers - 1,
                          key=state.keep("an_block", 0, lo=0, hi=handle.num_layers - 1))
if not choice.pretrained:
    st.warning("Random weights: shapes and counts are real; attention distances and similarities are those of "
               "an untrained network.")
for i, im in enumerate(images):
    notes.upscaled(f"Image {i + 1} of {len(images)}", im.size, handle.preprocess.size)

with inline_errors():
    views.parameters(handle)
    views.shapes(handle, images[0], block)
    views.activations()
    views.over_images(cache.anatomy_views(choice.spec, choice.pretrained, key, images), handle)
