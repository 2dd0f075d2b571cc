"""Inside a block: the whole ViT computation for one image, step by step, with the model's own weights."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.ui import inside_views as views  # noqa: E402
from vizcore.ui import widgets  # noqa: E402
from vizcore.ui.cache import inside as inside_cache  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("Inside a block")
st.caption("One image through a Vision Transformer, step by step: patches, the patch embedding, position "
           "embeddings, LayerNorm, queries, keys and values, the attention softmax, the residual stream, the MLP and "
           "the prediction. Every number is computed by the selected model's own layers on this image.")

choice = widgets.model_picker("vit", "mae", default="bundled:tiny_vit",
                              extra={inside_cache.SEED_EXAMPLE: inside_cache.SEED_TITLE})
picked = widgets.image_picker()
is_seed = choice.spec == inside_cache.SEED_EXAMPLE
with inline_errors():
    handle = inside_cache.model(choice.spec, choice.pretrained)
with inline_errors():
    t = inside_cache.inside_trace(choice.spec, choice.pretrained, picked.key, picked.image)
random = not handle.info.pretrained

with inline_errors():
    views.summary(handle, t, picked.name, is_seed)
    views.patches(t, random)
    views.embedding(t, random)
    views.block(choice, picked, handle.num_layers, random)
    views.head(t, handle, random)
    views.shape_walk(t, is_seed)
    views.pre_post_ln()
    views.parameter_formula(handle)
