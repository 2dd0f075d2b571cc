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
