"""The Embedding projector's transfer-learning baseline: a pretrained backbone against the same architecture with
random weights, the raw pixels and PCA, scored the same way on the data set on screen (issue: "activations of a
pretrained model are better embeddings", measured rather than asserted)."""

from __future__ import annotations

import streamlit as st

from vizcore.models import available_backbones, list_models
from vizcore.ui import cache
from vizcore.ui.errors import inline_errors

MAX_IMAGES = 2000  # four embeddings of a ViT-S on CPU: about a minute at this size


def section(data) -> None:
    """Draw the comparison for `data` (a `projector_state.DataChoice`) on request."""
    st.subheader("Transfer-learning baseline")
    dataset = data.dataset
    if dataset is None or len(dataset.label_names) < 2 or dataset.images.shape[0] == 0:
        st.info("The baseline needs a labelled image data set with at least two classes.")
        return
    backbones = {i.spec: i.title for i in available_backbones()}
    if not backbones:
        missing = [i.title for i in list_models() if i.kind == "vit" and not i.offline][:3]
        st.info("No pretrained backbone's weights are on this machine yet. Pick one of the real models (e.g. "
                f"{', '.join(missing) or 'DINO ViT-S/16'}) in the Embedding-source picker and click **Download "
                "weights**, or run `vizcore download timm:vit_small_patch16_224.dino`; this section then compares "
                "it with the same architecture with random weights, the raw pixels and PCA.")
        return
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    spec = c1.selectbox("Pretrained backbone", list(backbones), format_func=backbones.get, key="pj_base_model")
    n = min(len(dataset), MAX_IMAGES)
    if not c2.toggle("Run the comparison", value=False, key="pj_base_run",
                     help=f"Embeds {n:,} images four times (pretrained, random weights, pixels, PCA)."):
        st.caption(f"Scores four embeddings of {n:,} images of **{data.title}** with the same kNN and linear-probe "
                   "protocol: does pre-training make better features than the architecture alone, or the pixels?")
        return
    with inline_errors(stop=False):
        b = cache.transfer_baseline(data.key, spec, dataset, MAX_IMAGES)
        st.dataframe([{"features": r.source, "dims": r.dims, "kNN accuracy": f"{r.knn.value:.1%}",
                       "linear-probe accuracy": f"{r.probe.value:.1%}"} for r in b.rows], hide_index=True,
                     width="stretch")
        best = max(b.rows, key=lambda r: r.knn.value)
        st.caption(f"{b.n:,} images, {b.num_classes} classes; chance (always the commonest class) {b.chance:.1%}. "
                   f"Held-out 20% of each class; kNN: k = 20, cosine, DINO's weighted vote; probe: logistic "
                   f"regression on standardised features; ViT features: the {b.pooling} token of the last block. "
                   f"Best kNN here: {best.source}.")
