"""Position embeddings: what a ViT's absolute position embeddings encode, computed live from the model."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.analysis.posembed import NoAbsolutePositionEmbeddingError, is_fixed_sincos  # noqa: E402
from vizcore.ui import cache, state, widgets  # noqa: E402
from vizcore.ui import posembed_views as views  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("Position embeddings")
st.caption("How a Vision Transformer knows where each patch is: similarity grids of its position embeddings, "
           "how they stretch to other input sizes, and how they compare with the fixed 2-D sin-cos kind.")

choice = widgets.model_picker("vit", "mae")  # an MAE encoder is a ViT
with inline_errors():
    handle = cache.model(choice.spec, choice.pretrained)
(H, W), (ph, pw) = handle.preprocess.size, handle.layout(handle.preprocess.size).patch_size
c1, c2 = st.sidebar.columns(2)
rh = c1.number_input("Resample to height (px)", ph, 4 * H, step=ph, key=state.keep("pe_h", H + 4 * ph, lo=ph, hi=4 * H))
rw = c2.number_input("Width (px)", pw, 4 * W, step=pw, key=state.keep("pe_w", W + 8 * pw, lo=pw, hi=4 * W))
with inline_errors():
    try:
        v = cache.posembed_views(choice.spec, choice.pretrained, (int(rh), int(rw)))
    except NoAbsolutePositionEmbeddingError as e:  # RoPE / relative bias models: explain, do not fail
        st.info(str(e), icon="ℹ️")
        st.stop()

fixed = is_fixed_sincos(handle)
if not choice.pretrained:
    st.warning("Random weights: the rest of the model is untrained, but this table is the fixed 2-D sin-cos, the "
               "same as the trained model's." if fixed else
               "Random weights: the learned table is still its random initialisation, so similarities are noise.")
st.info(v.scheme)
views.native_grid(v)
views.native_vs_resampled(v, (int(rh), int(rw)))
views.learned_vs_sincos(v, fixed)
views.components(v, fixed, choice.pretrained)
