"""Home: what vizcore shows, the real pretrained models (download on request) and the bundled ones."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

# Home imports no model library (torch, timm, scikit-learn) and no pandas: the catalog reads the model cards and the
# curated table, the tables are Markdown, and the download panel is the light `vizcore.ui.downloads`
# (tests/test_startup.py checks sys.modules).
from vizcore.models.catalog import list_models  # noqa: E402
from vizcore.models.curated import format_size  # noqa: E402
from vizcore.ui import downloads, tables  # noqa: E402

st.title("vizcore: see what image models learn")
st.markdown(
    """
vizcore opens up image models on your own machine, offline, on a CPU.

| Page | What it shows |
|---|---|
| **Attention** | Where a Vision Transformer looks: per-head CLS attention over the image, every layer and head at once, attention rollout, class-specific gradient rollout with the top-5 predictions, the attention of any patch you pick, DINO-style masks holding p% of the mass, and what register / distillation tokens soak up. Downloads: overlay PNG and raw attention `.npy`. |
| **Position embeddings** | The ViT paper's similarity grid of the learned position embeddings, the grid resampled to another input size, learned vs fixed 2-D sin-cos (MAE) embeddings by row and column offset, and their principal components. Models with RoPE or relative position bias get an explanation. |
| **ViT anatomy** | Parameters by component (the simplified ViT-B formula reconciled with the real count, parameter by parameter), live tensor shapes through a block, GELU vs ReLU, LayerNorm and residual-stream statistics, mean attention distance per head vs depth, and layer-to-layer CKA. |
| **Inside a block** | The whole ViT computation on the chosen model and image, step by step with live shapes: patches and their flattening, the patch embedding as a matrix product, position embeddings and prefix tokens, pre-LayerNorm (vs what BatchNorm would normalise), the fused qkv and the head split, q·k, the 1/√d scale and the softmax for any query token, attention × V, residuals, the MLP with GELU, the head's top-5; the seed's worked example; Pre-LN vs Post-LN gradients at initialisation; the parameter formula term by term. |
| **VAE latent space** | Walk between two images through a VAE's latent space (slerp or lerp, with the latent norm along the path, a frame strip and an animated GIF), latent traversals sorted by KL with collapsed dimensions marked, the 2-D manifold (Kingma & Welling Fig. 4) beside the held-out codes, prior samples, the reparameterisation trick for one input, and the β trade-off between reconstruction and KL. |
| **Autoencoders** | AE, sparse AE and VAE reconstructions side by side, reconstruction error against bottleneck size (vs PCA), a classifier on the code vs PCA vs raw pixels, a sparse AE's activations, dead units and top-activating digits, and a short training run in the app with a live loss curve. |
| **MAE reconstruction** | Hide most patches of an image and watch a masked autoencoder fill them in: the paper's four panels, a mask-ratio slider with the exact number of kept patches, random / block / grid / focused masking (a rectangle or the attention rollout, hidden or kept), the error of every hidden patch, the strategies side by side, and error against mask ratio. Download the panels as PNG. |
| **Embedding projector** | A whole data set as one map: raw pixels, PCA, a ViT's CLS or patch tokens at any layer, an autoencoder's code or a VAE's mu, projected with PCA, t-SNE or UMAP on all points (2-D or 3-D). Select points to see their images, click one for its nearest neighbours, read kNN / linear-probe accuracy and trustworthiness, compare two sources, and export for the TensorFlow Projector. Bring your own images as a zip. |

Start with the bundled **Tiny ViT**: it was trained here (`vizcore train vit`) to name the shape hidden in a
cluttered scene, so its attention has something to find; the bundled **Tiny MAE** (`vizcore train mae`) learned to
fill in the same scenes. For your own photos use a real pretrained model (below): one click on **Download weights**
in the model picker, or `vizcore download <spec>` on the command line.
"""
)

st.warning(
    "**The bundled models know only their own tiny worlds.** The Tiny ViT and Tiny MAE saw nothing but synthetic "
    "64-px scenes of 8 shapes in clutter; the autoencoders saw 8x8 digits or 32-px sprites. Shown a photo or your "
    "upload they still answer (a cat comes out as *ring 84.6%*), but that answer is not meaningful; the pages say "
    "so next to it. For photos, pick **DINO ViT-S/16** (≈87 MB) or another model below.",
    icon=":material/explore:",
)


def table(rows: list[dict[str, str]], empty: str) -> None:
    """`rows` as a Markdown table, every cell in full (a data grid cut the longer ones); `empty` when there are none."""
    if rows:
        st.markdown(tables.markdown(rows))
    else:
        st.info(empty)


st.subheader("Bundled models (trained here, in assets/models)")
infos = list_models()
table([{"model": i.title, "spec": i.spec, "kind": i.kind, "trained on": i.trained_on, "weights here": "yes"}
       for i in infos if i.spec.startswith("bundled:")],
      empty="No bundled models were found in assets/models (or $VIZCORE_ASSETS/models).")

st.subheader("Real pretrained models")
st.caption("Downloaded on request only, into the Hugging Face cache (`$HF_HOME/hub`, usually "
           "`~/.cache/huggingface/hub`), where timm and transformers find them too. Sizes are approximate "
           "(parameters x 4 bytes); the exact size shows when a download starts.")
curated = [i for i in infos if not i.spec.startswith("bundled:")]
table([{"model": i.title, "good for": f"{i.description} Trained on {i.trained_on}. Pages: {', '.join(i.pages)}.",
        "size": format_size(i.size_bytes), "weights here": "yes" if i.offline else "no", "licence": i.licence}
       for i in curated], empty="No curated models are listed.")
if curated:
    st.caption("Their specs, for `vizcore download <spec>`, `vizcore attention --model <spec>` and the other commands:")
    width = max(len(i.spec) for i in curated)
    st.code("\n".join(f"{i.spec:<{width}}  # {i.title}" for i in curated), language=None)
missing = {i.spec: f"{i.title} ({format_size(i.size_bytes)})" for i in curated if not i.offline}
if missing:
    pick = st.selectbox("Download a model now", list(missing), format_func=missing.get, key="home_download_pick")
    downloads.download_panel(pick, key="home", title=missing[pick].rsplit(" (", 1)[0])
else:
    st.success("Every curated model's weights are on this machine.", icon=":material/check_circle:")

st.caption("Any model can also be opened with random weights (labelled as such on every page), and any timm ViT "
           "(`timm:<name>`), Hugging Face repo (`hf:<org>/<name>`) or local checkpoint / transformers folder "
           "(`file:<path>`) works through the picker's last entries.")
