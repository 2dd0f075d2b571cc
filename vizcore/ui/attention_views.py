"""The Attention page's views: each reads its own controls, computes from cached maps and draws one figure, and
offers that figure as a PNG (the same maps, colour range and colour bar, with title and model)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import streamlit as st

from vizcore import figures
from vizcore.analysis import attention
from vizcore.export import picture, render
from vizcore.figures.attention import color_range
from vizcore.ui import attention_player as player
from vizcore.ui import cache, notes, reuse
from vizcore.ui import flipbook as flip
from vizcore.ui.state import keep, remembered

EXPLAIN_PREFIX = {
    "cls": "**CLS** — a learned token whose final state feeds the classifier; its attention row is the usual "
           "'where does the model look' map.",
    "dist": "**Distillation token** (DeiT) — trained to match a CNN teacher's prediction; a second summary token "
            "beside CLS.",
    "reg": "**Registers** (Darcet et al. 2024) — extra learned tokens with no output; they absorb global "
           "information that would otherwise create high-norm artefact patches in the attention maps.",
}




@dataclass(frozen=True, eq=False)
class View:
    """What every tab draws from: the model, its maps for the picked image and how to draw them."""

    handle: object
    maps: attention.AttentionMaps
    display: object  # widgets.Display: opacity, colour scale, upsampling
    choice: object  # widgets.ModelChoice: spec, pretrained, title (says "random weights" when so)
    key: str  # content key of the image
    image: object  # the picked PIL image
    fit: str
    name: str  # the image's name, for captions and downloads

    def ident(self, *controls) -> tuple:
        """What a figure of this view depends on (model, image, fit, display, colour scale) plus `controls`."""
        d = self.display
        return (self.choice.spec, self.choice.pretrained, self.key, self.fit, d.opacity, d.colorscale,
                d.interpolation, d.base, _scale(), *controls)


def summary(handle, maps: attention.AttentionMaps, image_name: str, image_size: tuple[int, int]) -> None:
    """What the model saw, its token layout and (with a classifier head) its top-5 predictions."""
    if not handle.info.pretrained:
        st.warning("Random weights: this model is untrained, so its attention is a pattern of the initialisation, "
                   "not of anything learned.", icon="🎲")
    lay = maps.layout
    notes.upscaled(image_name, image_size, lay.input_size)
    left, right = st.columns([1, 2])
    with left:
        seen = render.to_png(render.as_uint8(maps.image[0]))
        st.image(seen, caption=f"{image_name}: what the model saw ({lay.input_size[0]}×{lay.input_size[1]} px)")
    with right:
        st.markdown(
            f"**{handle.info.title}** · {maps.num_layers} layers × {maps.num_heads} heads · "
            f"{lay.num_tokens} tokens = {lay.num_prefix_tokens} prefix ({', '.join(lay.prefix_names) or 'none'}) "
            f"+ {lay.grid[0]}×{lay.grid[1]} patches of {lay.patch_size[0]} px"
        )
        if handle.has_head:
            top = attention.top_predictions(maps.logits, handle.class_names, k=5)[0]
            st.plotly_chart(figures.predictions_bar(top, title="Top-5 predictions",
                                                    num_classes=int(maps.logits.shape[-1])), width="stretch")
        else:
            st.info("This model has no classifier head (self-supervised features), so there are no predictions "
                    "and no class-specific gradient map.")


SCALE_LABELS = {"map": "stretched: each map's min → max", "absolute": "absolute: 0 → largest value"}


def scale_picker() -> str:
    """The colour-scale choice shared by every attention view: stretched per map, or absolute from 0."""
    return st.radio("Colour scale", list(SCALE_LABELS), format_func=SCALE_LABELS.get, horizontal=True,
                    key=keep("att_scale", "map", options=list(SCALE_LABELS)),
                    help="Stretched colours show any pattern, however faint; absolute colours start at 0, so a map "
                         "that is nearly uniform looks flat. The colour bar marks uniform attention (1/N).")


def _scale() -> str:
    return remembered("att_scale", "map")


@st.fragment
def per_head(v: View) -> None:
    """Every head's map of the prefix (CLS) token in a flip-book, one page per layer (`attention_player`): the Layer
    slider switches pages in the browser; the page the user left is kept for a new image."""
    maps, d = v.maps, v.display
    grids = _layer_grids(v)  # (L, H, gh, gw)
    level = attention.uniform_level(maps.layout)
    query, scale = _query_name(maps), _scale()
    style = dict(query=query, colorscale=d.colorscale, opacity=d.opacity, interpolation=d.interpolation,
                 scale=scale, uniform=level)
    pages = reuse.figure(v.ident("per_head_book"), lambda: player.head_book(_base(v), grids, **style))
    flip.flipbook(pages, key="att_head_layer", default=maps.num_layers - 1)
    title = player.every_layer_title(query)

    def png(lines: list[str]) -> bytes:
        pic = player.every_layer_picture(_base(v), grids, lines=lines, **style)
        return picture.png(pic, title=title, model=v.choice.title,
                           lines=lines + [f"layer {i}: " + player.scale_line(scale, *player.head_range(g, scale), level)
                                          for i, g in enumerate(grids)])

    _downloads(v, grids.reshape(-1, *grids.shape[2:]), title, level, "cls_every_layer_heads", make=png,
               label="Download every layer (PNG)")


@st.fragment
def overview(v: View) -> None:
    maps, display = v.maps, v.display
    grids = _layer_grids(v)  # (L, H, gh, gw)
    level = attention.uniform_level(maps.layout)
    st.plotly_chart(reuse.figure(v.ident("overview"), lambda: figures.layers_heads_overview(
        grids, title=f"{_query_name(maps)} attention, every layer (rows) × head (columns)",
        colorscale=display.colorscale, scale=_scale(), uniform=level)), width="stretch")
    names = [f"layer {i} head {h}" for i in range(grids.shape[0]) for h in range(grids.shape[1])]
    _flat_note(names, grids.reshape(-1, *grids.shape[2:]), level)


@st.fragment
def rollout(v: View) -> None:
    maps = v.maps
    c1, c2 = st.columns(2)
    fusion = c1.selectbox("Head fusion", attention.HEAD_FUSIONS,
                          key=keep("ro_fusion", "mean", options=attention.HEAD_FUSIONS))
    discard = c2.slider("Discard ratio (weakest links per row)", 0.0, 0.95, step=0.05,
                        key=keep("ro_discard", 0.0, lo=0.0, hi=0.95))
    grid = attention.rollout(maps, head_fusion=fusion, discard_ratio=discard)[0]
    level = attention.uniform_level(maps.layout, "patches")
    title = f"Attention rollout ({fusion} over heads, discard {discard:.2f})"
    st.plotly_chart(_overlay(v, grid, title, level, "rollout", fusion, discard), width="stretch")
    _flat_note(["the rollout"], grid[None], level)
    st.caption("Rollout multiplies each layer's attention (plus the identity for the residual path, rows "
               "re-normalised) through the network: how much each patch can reach the CLS token.")
    _downloads(v, grid[None], title, level, f"rollout_{fusion}_discard{discard:.2f}")


@st.fragment
def grad_rollout(v: View) -> None:
    handle, maps = v.handle, v.maps
    if not handle.has_head:
        st.info("Gradient rollout needs a classifier head; this model has none.")
        return
    top = attention.top_predictions(maps.logits, handle.class_names, k=5)[0]
    classes = [c for c, _, _ in top]
    idx = st.selectbox("Explain class", classes, key=keep("gr_class", classes[0], options=classes),
                       format_func=lambda c: next(f"{n} ({p:.1%})" for i, n, p in top if i == c))
    gmaps = maps if _explains(maps, idx) else cache.attention_maps(v.choice.spec, v.choice.pretrained, v.key,
                                                                    v.image, v.fit, target=int(idx))
    grid = attention.grad_rollout(gmaps)[0]
    level = attention.uniform_level(maps.layout, "patches")
    title = f"Gradient-weighted rollout for '{_name(handle, idx)}'"
    st.plotly_chart(_overlay(v, grid, title, level, "grad_rollout", int(idx)), width="stretch")
    _flat_note(["the gradient rollout"], grid[None], level)
    st.caption("Chefer et al. 2021 (gradient-only): each layer's attention weighted by the gradient of the class "
               "score, negatives clipped, averaged over heads, accumulated as R ← R + ĀR.")
    _downloads(v, grid[None], title, level, f"grad_rollout_class{idx}")


def _explains(maps: attention.AttentionMaps, idx) -> bool:
    """Whether `maps` already holds the gradients of class `idx` (the page's capture takes the predicted class's)."""
    return maps.grads is not None and maps.target is not None and int(maps.target[0]) == int(idx)


@st.fragment
def query_patch(v: View) -> None:
    maps, display = v.maps, v.display
    lay = maps.layout
    _apply_clicked_patch(lay)
    c1, c2, c3, c4 = st.columns(4)
    gh, gw = lay.grid
    layer = c1.slider("Layer", 0, maps.num_layers - 1, key=_layer_key(maps, "q_layer"))
    row = c2.slider("Patch row", 0, gh - 1, key=keep("q_row", gh // 2, lo=0, hi=gh - 1))
    col = c3.slider("Patch column", 0, gw - 1, key=keep("q_col", gw // 2, lo=0, hi=gw - 1))
    fusion = c4.selectbox("Head fusion", attention.HEAD_FUSIONS,
                          key=keep("q_fusion", "mean", options=attention.HEAD_FUSIONS))
    token = lay.num_prefix_tokens + row * lay.grid[1] + col
    grid = attention.query_map(maps, layer, token, fusion)[0]
    level = attention.uniform_level(lay)
    title = f"Where patch ({row}, {col}) looks at layer {layer}"
    fig = reuse.figure(v.ident("query", layer, row, col, fusion), lambda: figures.attention_overlay(
        _base(v), grid, title=title, opacity=display.opacity, colorscale=display.colorscale,
        interpolation=display.interpolation, patch_size=lay.patch_size, highlight=(row, col), pickable=True,
        scale=_scale(), uniform=level))
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode="points", key="q_chart")
    st.caption("Click a patch on the image (or use the sliders) to see where it looks.")
    _flat_note([f"patch ({row}, {col})'s map"], grid[None], level)
    _remember_click(event)
    _downloads(v, grid[None], title, level, f"query_r{row}_c{col}_layer{layer}", highlight=(row, col))


def _remember_click(event) -> None:
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    picked = next((_row_col(p["customdata"]) for p in points if p.get("customdata") is not None), None)
    if picked is not None and tuple(picked) != st.session_state.get("q_applied"):
        st.session_state["q_pick"] = picked
        st.rerun(scope="fragment")


def _row_col(custom) -> tuple[int, int]:
    values = list(custom.values()) if isinstance(custom, dict) else list(custom)
    return int(values[0]), int(values[1])


def _apply_clicked_patch(lay) -> None:
    """Move the row/column sliders to a clicked patch (before they are drawn, as Streamlit requires); `keep` then
    holds them there, or at the centre of a new grid they no longer fit."""
    gh, gw = lay.grid
    pick = st.session_state.pop("q_pick", None)
    if pick is not None and pick[0] < gh and pick[1] < gw:
        st.session_state["q_row"], st.session_state["q_col"] = pick
        st.session_state["q_applied"] = pick


@st.fragment
def masks(v: View) -> None:
    maps = v.maps
    c1, c2 = st.columns(2)
    layer = c1.slider("Layer", 0, maps.num_layers - 1, key=_layer_key(maps, "m_layer"))
    mass = c2.slider("Keep this share of attention mass", 0.1, 1.0, step=0.05, key=keep("m_mass", 0.6, lo=0.1, hi=1.0))
    kept = attention.mass_mask(attention.cls_maps(maps, layer)[0], mass)  # (H, gh, gw)
    st.plotly_chart(reuse.figure(v.ident("masks", layer, mass), lambda: figures.mass_masks(
        _img(maps), kept, mass=mass, title=f"Smallest patch sets holding {mass:.0%} of each head's attention, "
                                            f"layer {layer}")), width="stretch")
    st.caption("As in DINO: sort patches by attention and keep the fewest that together hold the chosen mass.")


@st.fragment
def prefix_tokens(v: View) -> None:
    maps = v.maps
    lay = maps.layout
    kinds = {name.rstrip("0123456789") for name in lay.prefix_names}
    st.markdown("\n".join(f"- {EXPLAIN_PREFIX[k]}" for k in ("cls", "dist", "reg") if k in kinds)
                or "This model has no prefix tokens: every token is a patch.")
    if not lay.num_prefix_tokens:
        return
    share = attention.prefix_share(maps)[0].numpy()  # (L, H, p)
    level = attention.uniform_level(lay)
    st.plotly_chart(reuse.figure(v.ident("prefix_share"), lambda: figures.prefix_share_heatmap(
        share, lay.prefix_names, uniform=level,
        title="Share of attention each prefix token receives (averaged over all queries)")), width="stretch")
    name = st.selectbox("Show where this prefix token looks", lay.prefix_names,
                        key=keep("p_token", lay.prefix_names[0], options=lay.prefix_names))
    layer = st.slider("Layer", 0, maps.num_layers - 1, key=_layer_key(maps, "p_layer"))
    grid = attention.query_map(maps, layer, lay.prefix_names.index(name), "mean")[0]
    title = f"Attention of the {name} token over the patches, layer {layer}"
    st.plotly_chart(_overlay(v, grid, title, level, "prefix", name, layer), width="stretch")
    _flat_note([f"the {name} token's map"], grid[None], level)
    _downloads(v, grid[None], title, level, f"{name}_layer{layer}")


TABS = ["Per head", "All layers", "Rollout", "Gradient rollout", "Query patch", "Mass masks", "Prefix tokens"]
DRAW = [per_head, overview, rollout, grad_rollout, query_patch, masks, prefix_tokens]


def tabs(v: View) -> None:
    """The views as tabs, each a fragment (a control reruns only its view; figures come from `reuse.figure`).

    Every tab is computed on a full run: lazy tabs (`st.tabs(on_change="rerun")` around these nested fragments)
    left the per-head Layer slider showing 0 while the figure kept layer 3 after a switch away and back."""
    for tab, draw in zip(st.tabs(TABS), DRAW):
        with tab:
            draw(v)


def _layer_key(maps, key: str) -> str:
    """A layer slider's key, its value kept (default: the last layer) and fitted to this model's depth."""
    return keep(key, maps.num_layers - 1, lo=0, hi=maps.num_layers - 1)


def _img(maps) -> np.ndarray:
    return maps.image[0].numpy()


def _base(v: View) -> np.ndarray:
    """The image under the colour maps, as the Display options ask: grey (the default) or in colour."""
    return render.grey(_img(v.maps)) if v.display.base == "grey" else render.as_uint8(_img(v.maps))


def _overlay(v: View, grid, title: str, uniform: float, *controls):
    """The overlay of `grid` on the image, built once per view and `controls` (what chose `grid`)."""
    d = v.display
    return reuse.figure(v.ident(*controls), lambda: figures.attention_overlay(
        _base(v), grid, title=title, opacity=d.opacity, colorscale=d.colorscale, interpolation=d.interpolation,
        patch_size=v.maps.layout.patch_size, scale=_scale(), uniform=uniform))


def _flat_note(names: list[str], grids, level: float) -> None:
    """Say which of these maps (n, gh, gw) are within `attention.NEAR_UNIFORM` of uniform attention (1/N)."""
    if note := player.near_uniform(names, grids, level, _scale()):
        st.info(note, icon=":material/straighten:")


def _layer_grids(v: View) -> np.ndarray:
    """The prefix token's maps at every layer and head (L, H, gh, gw), computed once per image and model."""
    return reuse.figure((v.choice.spec, v.choice.pretrained, v.key, v.fit, "layer_grids"),
                        lambda: player.layer_grids(v.maps))


def _query_name(maps) -> str:
    return "CLS" if maps.layout.has_cls else "Mean-query"


def _name(handle, idx: int) -> str:
    return handle.class_names[idx] if handle.class_names else f"class {idx}"


def _downloads(v: View, grids, title: str, uniform: float, stem: str, names: list[str] | None = None,
               highlight: tuple[int, int] | None = None, make=None, label: str = "Download this figure (PNG)") -> None:
    """The figure on screen as a PNG (same maps, colour range, colour bar, title, model) and the raw attention as
    .npy, each generated only when clicked (the .npy of ViT-B is ~22 MB). `make(lines)`, when given, draws the PNG
    instead (lines: the model and image, what the colours mean)."""
    d, lay = v.display, v.maps.layout
    scale = _scale()
    lo, hi = color_range(grids, "absolute" if scale == "absolute" else "map")
    how = (("colours stretched from the smallest to the largest value", "colours from 0 to the largest value")
           [scale == "absolute"] + ("" if len(grids) == 1 else ", one colour scale for all heads"))
    seen = f"{lay.input_size[0]}×{lay.input_size[1]} px as the model saw it, in {d.base}"
    lines = [f"{v.choice.title} · {v.name} · {seen}",
             f"{how}: {lo:.3g} to {hi:.3g} · uniform attention 1/{round(1 / uniform):,} = {uniform:.3g}"]

    def png() -> bytes:
        if make is not None:
            return make(lines[:1])
        pic = picture.attention_picture(_base(v), grids, title=title, lines=lines, names=names,
                                        colorscale=d.colorscale, opacity=d.opacity, interpolation=d.interpolation,
                                        lo=lo, hi=hi, uniform=uniform, highlight=highlight)
        return picture.png(pic, title=title, lines=lines, model=v.choice.title)

    def npy() -> bytes:
        buf = io.BytesIO()
        np.save(buf, v.maps.attn[0].numpy().astype(np.float32))  # (L, H, N, N)
        return buf.getvalue()

    c1, c2 = st.columns(2)
    c1.download_button(label, png, f"{stem}.png", "image/png", key=f"dl_png_{stem}",
                       on_click="ignore", icon=":material/download:")
    c2.download_button("Download raw attention (.npy: layers × heads × tokens × tokens)", npy, "attention.npy",
                       "application/octet-stream", key=f"dl_npy_{stem}", on_click="ignore")
