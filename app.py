"""vizcore app entrypoint: page config and navigation only. Run with `streamlit run app.py`."""

from pathlib import Path

import streamlit as st
from PIL import Image

from vizcore.threads import set_torch_threads
from vizcore.ui import reuse, state, warmup
from vizcore.ui.shell import ensure_navigation

# One torch thread by default (vizcore/threads.py says why); not while the warm-up imports torch (it reads the env).
warmup.unless_loading(set_torch_threads)
ensure_navigation()
state.new_run()  # one count per page run: kept controls tell a returning widget from one on screen
# A local PNG, served by this server: a ":material/...:" page icon is fetched from a font CDN (fails offline).
st.set_page_config(page_title="vizcore", page_icon=Image.open(Path(__file__).parent / "assets" / "favicon.png"),
                   layout="wide")
page = st.navigation(
    [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/attention.py", title="Attention", icon=":material/visibility:"),
        st.Page("pages/posembed.py", title="Position embeddings", icon=":material/grid_on:"),
        st.Page("pages/anatomy.py", title="ViT anatomy", icon=":material/account_tree:"),
        st.Page("pages/inside.py", title="Inside a block", icon=":material/memory:"),
        st.Page("pages/vae.py", title="VAE latent space", icon=":material/blur_on:"),
        st.Page("pages/autoencoders.py", title="Autoencoders", icon=":material/compress:"),
        st.Page("pages/mae.py", title="MAE reconstruction", icon=":material/auto_fix_high:"),
        st.Page("pages/projector.py", title="Embedding projector", icon=":material/scatter_plot:"),
    ]
)
if page.url_path:  # every page but Home loads models: let a running warm-up finish first (vizcore.ui.warmup.wait)
    warmup.wait()
try:
    page.run()
finally:  # every page: freeze the long-lived heap, so Streamlit's gc after each run skips it (vizcore.ui.reuse)
    reuse.settle()
    warmup.start()  # once: torch, timm and the first ViT load in the background once this run is over
