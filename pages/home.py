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

Start with the bundled **Tiny ViT**: it was trained here (`vizcore train vit`) to name the shape hidden in a
cluttered scene, so its attention has something to find. Any timm Vision Transformer works too once its weights
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
