"""Autoencoders: AE vs sparse AE vs VAE reconstructions, bottleneck size vs PCA, classification from the code."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.ui import autoencoder_views as views  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("Autoencoders")
st.caption("An autoencoder learns to compress an image into a short code and rebuild it. On scikit-learn's "
           "handwritten digits (8×8 pixels, 1,437 for training, 360 held out) compare a plain AE, a sparse AE and "
           "a VAE, measure them against PCA, ask whether the code still knows which digit it saw, and train one "
           "yourself.")

tabs = st.tabs(["Reconstructions", "Bottleneck size", "Classification", "Sparse AE units", "Train one yourself"])
with inline_errors():
    with tabs[0]:
        views.reconstructions()
    with tabs[1]:
        views.bottleneck()
    with tabs[2]:
        views.classification()
    with tabs[3]:
        views.sparse_units()
    with tabs[4]:
        views.train_here()
