"""Home: what vizcore shows and which models work offline right now."""

import pandas as pd
import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

import vizcore as vc  # noqa: E402

st.title("vizcore: see what image models learn")
st.markdown(
    """
vizcore opens up image models on your own machine, offline, on a CPU.

| Page | What it shows |
|---|---|
| **Attention** | Where a Vision Transformer looks: per-head CLS attention over the image, every layer and head at once, attention rollout, class-specific gradient rollout with the top-5 predictions, the attention of any patch you pick, DINO-style masks holding p% of the mass, and what register / distillation tokens soak up. Downloads: overlay PNG and raw attention `.npy`. |
| **Position embeddings** | The ViT paper's similarity grid of the learned position embeddings, the grid resampled to another input size, learned vs fixed 2-D sin-cos (MAE) embeddings by row and column offset, and their principal components. Models with RoPE or relative position bias get an explanation. |
| **ViT anatomy** | Parameters by component (the simplified ViT-B formula reconciled with the real count, parameter by parameter), live tensor shapes through a block, GELU vs ReLU, LayerNorm and residual-stream statistics, mean attention distance per head vs depth, and layer-to-layer CKA. |
| **VAE latent space** | Walk between two images through a VAE's latent space (slerp or lerp, with the latent norm along the path, a frame strip and an animated GIF), latent traversals sorted by KL with collapsed dimensions marked, the 2-D manifold (Kingma & Welling Fig. 4) beside the held-out codes, prior samples, the reparameterisation trick for one input, and the β trade-off between reconstruction and KL. |
| **Autoencoders** | AE, sparse AE and VAE reconstructions side by side, reconstruction error against bottleneck size (vs PCA), a classifier on the code vs PCA vs raw pixels, a sparse AE's activations, dead units and top-activating digits, and a short training run in the app with a live loss curve. |
| **MAE reconstruction** | Hide most patches of an image and watch a masked autoencoder fill them in: the paper's four panels, a mask-ratio slider with the exact number of kept patches, random / block / grid / focused masking (a rectangle or the attention rollout, hidden or kept), the error of every hidden patch, the strategies side by side, and error against mask ratio. Download the panels as PNG. |
| **Embedding projector** | A whole data set as one map: raw pixels, PCA, a ViT's CLS or patch tokens at any layer, an autoencoder's code or a VAE's mu, projected with PCA, t-SNE or UMAP on all points (2-D or 3-D). Select points to see their images, click one for its nearest neighbours, read kNN / linear-probe accuracy and trustworthiness, compare two sources, and export for the TensorFlow Projector. Bring your own images as a zip. |

Start with the bundled **Tiny ViT**: it was trained here (`vizcore train vit`) to name the shape hidden in a
cluttered scene, so its attention has something to find; the bundled **Tiny MAE** (`vizcore train mae`) learned to
fill in the same scenes. Any timm Vision Transformer works too once its weights
are in the local Hugging Face cache.
"""
)

st.subheader("Models available on this machine")
rows = [
    {"model": i.title, "spec": i.spec, "kind": i.kind, "weights here": "yes" if i.offline else "no (random only)"}
    for i in vc.list_models()
]
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption("Models without local weights can still be opened with random weights (labelled as such). "
           "Fetch real weights once with `huggingface-cli download timm/<name>` on a machine with internet.")
