"""The Position embeddings page's sections: each draws from one cached analysis of the selected model."""

from __future__ import annotations

import streamlit as st

from vizcore import figures
from vizcore.ui.cache import PosembedViews


def native_grid(v: PosembedViews) -> None:
    gh, gw = v.grid
    st.subheader("Similarity of every patch's position embedding to every other")
    st.plotly_chart(figures.similarity_grid_figure(
        v.similarity, title=f"Cosine similarity of position embeddings, native {gh}×{gw} grid"), width="stretch")
    st.caption(f"Tile (r, c) shows how similar patch (r, c)'s embedding is to every patch (ViT paper, Fig. 7 "
               f"centre). {v.prefix_rows} prefix row(s) of the stored table were left out; width D = {v.dim}.")


def native_vs_resampled(v: PosembedViews, input_hw: tuple[int, int]) -> None:
    st.subheader("Native grid vs resampled to another input size")
    left, right = st.columns(2)
    gh, gw = v.grid
    rh, rw = v.resampled_grid
    left.plotly_chart(figures.similarity_grid_figure(v.similarity, title=f"Native {gh}×{gw}"),
                      width="stretch", key="pe_native_small")
    right.plotly_chart(figures.similarity_grid_figure(
        v.resampled, title=f"Resampled to {rh}×{rw} for a {input_hw[0]}×{input_hw[1]} px input"),
        width="stretch", key="pe_resampled")
    st.caption("Models that accept other input sizes interpolate their learned table (bicubic, as timm does); "
               "the locality pattern stretches with it.")


def learned_vs_sincos(v: PosembedViews) -> None:
    st.subheader("Learned vs fixed 2-D sin-cos (MAE) embeddings")
    left, right = st.columns(2)
    gh, gw = v.grid
    left.plotly_chart(figures.similarity_grid_figure(
        v.sincos_similarity, title=f"Fixed 2-D sin-cos on the same {gh}×{gw} grid"), width="stretch",
        key="pe_sincos")
    right.plotly_chart(figures.sincos_vs_learned_figure(
        v.offset, v.sincos_offset, title="Mean similarity by (row offset, column offset)"),
        width="stretch", key="pe_offsets")
    st.caption("A 1-D embedding knows only the flattened index, so its similarity falls off along rows and "
               "jumps at row ends; a learned 2-D-aware table (ViT found 2-D structure emerges anyway) and the "
               "fixed 2-D sin-cos decay with both the row and the column offset.")


def components(v: PosembedViews) -> None:
    st.subheader("Principal components of the learned position embeddings")
    st.plotly_chart(figures.principal_components_figure(
        v.pcs, v.ratios, title="First principal components, each drawn on the patch grid"), width="stretch")
    st.caption("The leading components of a well-trained table are smooth row and column gradients: the model "
               "has learned a 2-D coordinate system.")
