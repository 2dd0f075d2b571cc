"""The Position embeddings page's sections: each draws from one cached analysis of the selected model."""

from __future__ import annotations

import streamlit as st

from vizcore import figures
from vizcore.analysis import posembed
from vizcore.ui.cache import PosembedViews

GRADIENT = 0.8  # R² above which a component counts as a smooth gradient across the grid


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
    st.caption("Models that accept other input sizes interpolate their table (bicubic, as timm does); the "
               "locality pattern stretches with it.")


def learned_vs_sincos(v: PosembedViews, fixed: bool) -> None:
    """This model's table next to MAE's fixed 2-D sin-cos; `fixed`: the table IS that sin-cos (nothing learned)."""
    st.subheader("This model's table is the fixed 2-D sin-cos (MAE)" if fixed
                 else "Learned vs fixed 2-D sin-cos (MAE) embeddings")
    left, right = st.columns(2)
    gh, gw = v.grid
    left.plotly_chart(figures.similarity_grid_figure(
        v.sincos_similarity, title=f"Fixed 2-D sin-cos on the same {gh}×{gw} grid"), width="stretch",
        key="pe_sincos")
    mine = "this model (fixed sin-cos)" if fixed else "this model (learned)"
    right.plotly_chart(figures.sincos_vs_learned_figure(
        v.offset, v.sincos_offset, title="Mean similarity by (row offset, column offset)",
        labels=(mine, "fixed 2-D sin-cos")), width="stretch", key="pe_offsets")
    if fixed:
        st.caption("This model's table equals MAE's fixed 2-D sin-cos exactly (`vizcore.models.sincos.sincos_2d`): "
                   "the two grids are the same picture and the curves lie on top of each other. Nothing here was "
                   "learned; the sin-cos decays with both the row and the column offset by construction.")
    else:
        st.caption("A 1-D embedding knows only the flattened index, so its similarity falls off along rows and "
                   "jumps at row ends; a learned 2-D-aware table (ViT found 2-D structure emerges anyway) and the "
                   "fixed 2-D sin-cos decay with both the row and the column offset.")


def components(v: PosembedViews, fixed: bool, pretrained: bool) -> None:
    st.subheader("Principal components of the position embeddings")
    st.plotly_chart(figures.principal_components_figure(
        v.pcs, v.ratios, title="First principal components, each drawn on the patch grid"), width="stretch")
    st.caption(describe_components(posembed.gradient_fit(v.pcs), fixed, pretrained))


def describe_components(fit, fixed: bool, pretrained: bool) -> str:
    """What the leading components show, from how well a plane fits each (R², `posembed.gradient_fit`)."""
    fit = [float(f) for f in fit[:2]]
    r2 = " and ".join(f"{f:.2f}" for f in fit)
    smooth = all(f >= GRADIENT for f in fit)
    if fixed:
        return (f"The table is MAE's fixed 2-D sin-cos, so its components are smooth waves along rows and columns by "
                f"construction (plane fit R² = {r2}), not something the model learned.")
    if smooth:
        who = "the model has learned" if pretrained else "this (untrained) table happens to carry"
        return (f"The first two components are smooth gradients across the grid (a plane fits them with R² = {r2}): "
                f"{who} a 2-D coordinate system.")
    why = ("the table is still its random initialisation" if not pretrained
           else "this table has not learned a clean 2-D coordinate system")
    return (f"The first two components are not smooth gradients across the grid (a plane fits them with R² = "
            f"{r2}, 1 would be a perfect ramp): {why}.")
