"""The ViT anatomy page's sections: parameters, live shapes, activations, and statistics over a set of images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from vizcore import figures
from vizcore.analysis import anatomy
from vizcore.ui import cache


def parameters(handle) -> None:
    st.subheader("Where the parameters are")
    rows = anatomy.parameter_table(handle.module)
    totals = anatomy.component_totals(rows)
    real = sum(p.numel() for p in handle.module.parameters())
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.parameter_bar(totals, title=f"Parameters by component: {real:,} in total"),
                      width="stretch")
    table = pd.DataFrame([{"component": r.component, "block": r.block,
                           "tensor": r.name, "shape": str(tuple(r.shape)), "parameters": r.count} for r in rows])
    table["block"] = table["block"].astype("Int64")  # blank for parts outside the blocks
    right.dataframe(table, hide_index=True, height=420, width="stretch")
    right.caption(f"Rows sum to {table['parameters'].sum():,} = sum(p.numel()) = {real:,}.")
    _reconcile(handle, real)


def _reconcile(handle, real: int) -> None:
    arch = anatomy.vit_dimensions(handle.module)
    simple = anatomy.simplified_vit_count(**arch)
    st.markdown(f"**The simplified formula** P²·C·D + L·(4D² + 2rD² + 4D) + D·K with D = {arch['D']}, "
                f"L = {arch['L']}, P = {arch['P']}, C = {arch['C']}, r = {arch['mlp_ratio']:g}, "
                f"K = {arch['num_classes']} gives **{simple:,}**; the model really has **{real:,}**. "
                f"Every one of the {real - simple:,} parameters of the difference:")
    terms = anatomy.reconcile_vit_b(handle.module)
    diff = pd.DataFrame([{"left out by the formula": t, "parameters": n} for t, n in terms])
    st.dataframe(diff, hide_index=True, width="stretch")
    st.caption(f"Sum of the table: {diff['parameters'].sum():,} = {real:,} − {simple:,}. For ViT-B/16 the "
               "formula gives 86,329,344 and timm's model has 86,567,656.")


def shapes(handle, image, block: int) -> None:
    st.subheader(f"Tensor shapes through encoder block {block}, live for this image")
    steps = anatomy.block_shapes(handle, [image], block)
    st.dataframe(pd.DataFrame([{"stage": s.name, "shape": str(s.shape), "as letters": s.letters,
                                "what happens": s.explanation} for s in steps]), hide_index=True, width="stretch")
    st.caption("B batch, N tokens, D width, h heads, d = D/h per head. Recorded by forward hooks on the block.")


def activations() -> None:
    st.subheader("GELU vs ReLU")
    curves = anatomy.activation_curves(np.linspace(-4, 4, 401))
    st.plotly_chart(figures.activation_figure(curves, title="Activations and their derivatives"),
                    width="stretch")
    st.caption("GELU(x) = x·Φ(x) is smooth, slightly negative for small negative x, and its gradient is never "
               "exactly zero, unlike ReLU's.")


def over_images(v: cache.AnatomyViews, handle) -> None:
    st.subheader(f"Statistics over {v.n_images} images")
    layout = handle.layout(handle.preprocess.size)  # the images were resized to the native size
    uniform = anatomy.uniform_attention_distance(layout)
    st.plotly_chart(figures.attention_distance_figure(
        v.distance, title="Mean attention distance per head vs depth (ViT Fig. 7, right)",
        patch_size=v.patch_size, uniform=uniform), width="stretch")
    st.caption("Pixel distance between query and key patch centres, weighted by attention (prefix tokens removed, "
               f"rows re-normalised), on the {layout.grid[0]}×{layout.grid[1]} grid of {layout.patch_size[0]} px "
               f"patches. {anatomy.describe_attention_distance(v.distance, uniform)}")
    left, right = st.columns(2)
    left.plotly_chart(figures.layernorm_hist_figure(
        v.ln_before, v.ln_after, title="Token features before and after block 0's LayerNorm"),
        width="stretch")
    right.plotly_chart(figures.residual_norm_figure(
        v.residual, title="Norm of the residual stream across layers"), width="stretch")
    st.plotly_chart(figures.cka_figure(
        v.cka, title=f"Layer-to-layer linear CKA over {v.n_tokens:,} token representations"),
        width="stretch")
    st.caption("Linear CKA (Kornblith et al. 2019; as used by Raghu et al. 2021), float64: 1 means two layers "
               "represent the tokens the same way up to rotation and scale.")
