"""The Embedding projector page's sections: the map, quality scores, selection, neighbours, comparison, exports.

Pickers and the cached computations they feed are in `projector_state`.
"""

from __future__ import annotations

import re

import numpy as np
import streamlit as st

from vizcore import export, figures
from vizcore.analysis import projection, scores
from vizcore.data import vector_sets
from vizcore.export import render
from vizcore.ui import cache, pointmap
from vizcore.ui.errors import inline_errors
from vizcore.ui.projector_map import cached_map, column_values, hover_sheets, map_figure, map_id
from vizcore.ui.projector_state import (
    DEFAULT_COMPARE,
    GALLERY_MAX,
    HOW_TO_LOAD,
    KNN_HELP,
    METHOD_NAMES,
    PROBE_AUTO_MAX_DIM,
    PROBE_HELP,
    THUMB,
    TRUST_HELP,
    DataChoice,
    MapOptions,
    Method,
    Source,
    features,
    project,
    source_picker,
)

GALLERY_COLUMNS = 10  # thumbnails a row in the galleries
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")  # shown literally in a caption
EXPORT_MAX = 200_000  # TF Projector zip from the app up to this many points (the projector itself struggles above)


def describe(data: DataChoice, source: Source, X: np.ndarray, proj: projection.Projection) -> str:
    _, C, H, W = data.dataset.images.shape
    what = (f"{len(X):,} vectors" + (" with images" if data.vectors.image_column else "")) if data.vectors \
        else f"{len(X):,} images ({H}×{W} {'grey' if C == 1 else 'colour'})"
    timing = "from the stored map" if proj.method == "stored" else f"of all points in {proj.seconds:.1f} s"
    fast = "" if proj.reproducible else " · **fast mode: not reproducible**"
    return (f"**{data.title}**: {what}, {len(data.dataset.label_names):,} labels · **{source.title}**: "
            f"{X.shape[1]:,}-d vectors · {METHOD_NAMES[proj.method]} {proj.coords.shape[1]}-D {timing}{fast}")


def thumbs(data: DataChoice, rows) -> list[np.ndarray | None]:
    """Gallery thumbnails of `rows` (None where a row has no readable image)."""
    if data.vectors is not None:
        t = [vector_sets.thumbnail(data.vectors, int(i), THUMB) for i in rows]
        return [None if a is None else np.pad(a, ((3, 3), (3, 3), (0, 0)), constant_values=255) for a in t]
    return [_thumb(data.dataset.images[i]) for i in rows]


def _gallery(where, data: DataChoice, rows, captions: list[str]) -> None:
    """Thumbnails with captions, or (no images) the rows' metadata as a table.

    Each thumbnail sits in its own column with its caption's parts (" · ") on lines of their own: as one
    `st.image` with a list, the captions ran edge to edge ("0 · d = 0.019 0 · d = 0.026" read as one line).
    """
    images = thumbs(data, rows)
    shown = [(im, c) for im, c in zip(images, captions) if im is not None]
    for start in range(0, len(shown), GALLERY_COLUMNS):
        for col, (im, caption) in zip(where.columns(GALLERY_COLUMNS), shown[start:start + GALLERY_COLUMNS]):
            col.image(im, width=THUMB + 8)
            col.caption("  \n".join(_MARKDOWN.sub(r"\\\1", part) for part in caption.split(" · ")))
    if len(shown) < len(rows):
        d = data.dataset
        table = {"row": list(rows), "id": [d.ids[i] for i in rows], "label": [d.label_names[d.labels[i]] for i in rows],
                 "": captions} | {k: [v[i] for i in rows] for k, v in list(d.metadata.items())[:6]}
        where.dataframe(table, hide_index=True)


# ---- beside the map: quality --------------------------------------------------------------------------------------

def quality(data: DataChoice, source: Source, method: Method, X: np.ndarray, proj: projection.Projection) -> None:
    st.markdown("**Embedding quality**")
    labels = data.dataset.labels
    if len(np.unique(labels)) < 2:
        st.caption("Every image has the same label, so there is nothing to classify. Add labels (sub-folders or a "
                   "CSV) to score the embedding.")
    else:
        with st.spinner("Scoring the embedding…"), inline_errors(stop=False):
            _accuracy_metric("kNN accuracy (k=20)", cache.knn_score(data.key, source, X, labels), KNN_HELP)
        with inline_errors(stop=False):
            _probe_metric(data, source, X, labels)
    with st.spinner("Scoring the map…"), inline_errors(stop=False):
        t = cache.trust_score(data.key, source, method, X, proj.coords)
        st.metric(f"Trustworthiness ({proj.coords.shape[1]}-D)", f"{t.value:.3f}",
                  help=f"{TRUST_HELP} {t.detail}")
    if proj.explained_variance is not None:
        ev = proj.explained_variance
        st.metric("PCA variance shown", f"{ev.sum():.1%}",
                  help="Share of the embedding's total variance along the plotted principal components (the "
                       "rest is invisible on this map).")
        st.caption(" · ".join(f"PC {i + 1}: {v:.1%}" for i, v in enumerate(ev)))


def _accuracy_metric(label: str, score: scores.Score, help_text: str) -> None:
    chance = f"chance {score.chance:.0%}" if score.chance is not None else None
    st.metric(label, f"{score.value:.1%}", delta=chance, delta_color="off", delta_arrow="off",
              help=f"{help_text} {score.detail}")


def _probe_metric(data: DataChoice, source: Source, X: np.ndarray, labels: np.ndarray) -> None:
    key = f"pj_probe_on:{data.key}:{source.spec}:{source.pretrained}:{source.layer}:{source.pooling}"
    if X.shape[1] > PROBE_AUTO_MAX_DIM and not st.session_state.get(key):
        st.button(f"Linear probe ({X.shape[1]:,}-d: about a minute)", key=f"{key}:button",
                  help=PROBE_HELP, on_click=lambda: st.session_state.update({key: True}))
        return
    with st.spinner("Training the linear probe…"):
        _accuracy_metric("Linear probe", cache.probe_score(data.key, source, X, labels), PROBE_HELP)


# ---- tabs ---------------------------------------------------------------------------------------------------------

def _thumb(image) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 (h, w, 3), small images enlarged by whole pixels (crisp, not blurred)."""
    a = render.as_uint8(image)
    k = max(1, THUMB // max(a.shape[:2]))
    a = a.repeat(k, 0).repeat(k, 1) if k > 1 else a
    return np.pad(a, ((3, 3), (3, 3), (0, 0)), constant_values=255)  # a white margin keeps dark images apart


def selection(data: DataChoice, rows: list[int], matches) -> None:
    """Gallery of the selected images (else of the search matches) with label counts."""
    what = "selected"
    if not rows and matches is not None and matches.any():
        rows, what = np.flatnonzero(matches).tolist(), "matching the search"
    if not rows:
        st.info("Drag a box or a lasso over the 2-D map to see those images here with their label counts, or "
                "search for a label.")
        return
    d = data.dataset
    f1, f2 = st.columns([1, 3])
    column = f1.selectbox("Filter them by", ["(no filter)", "label", *d.metadata], key="pj_filter_col")
    if column != "(no filter)":  # keep the rows whose value in `column` is one of the chosen values
        values = np.asarray([str(v) for v in column_values(data, column)[rows]])
        keep = f2.multiselect(f"{column} is one of", sorted(set(values))[:500], key=f"pj_filter:{column}")
        rows = [r for r, v in zip(rows, values) if not keep or v in keep]
        what += f" with {column} in {', '.join(keep)}" if keep else ""
    images = f"{len(rows):,} image{'s' if len(rows) != 1 else ''} {what}"
    st.markdown(f"**{images}**" + (f" (showing the first {GALLERY_MAX})" if len(rows) > GALLERY_MAX else ""))
    counts = np.bincount(d.labels[rows], minlength=len(d.label_names))
    totals = np.bincount(d.labels, minlength=len(d.label_names))
    if (counts > 0).sum() > 30:  # many labels: the 30 most frequent in the selection
        counts = np.where(counts >= np.sort(counts)[-30], counts, 0)
    st.plotly_chart(figures.label_counts_figure(d.label_names, counts.tolist(), totals.tolist(),
                                                title=f"Labels of the {images}"), width="stretch", key="pj_counts")
    shown = rows[:GALLERY_MAX]
    _gallery(st, data, shown, [f"{d.label_names[d.labels[i]]} · {d.ids[i].rsplit('/', 1)[-1]}" for i in shown])


@st.fragment
def neighbours(data: DataChoice, source: Source, X: np.ndarray, rows: list[int]) -> None:
    """The k nearest neighbours of one point in the original embedding space, as thumbnails with distances."""
    d = data.dataset
    c1, c2, c3 = st.columns(3)
    k = c1.slider("Neighbours (k)", 1, 30, 10, key="pj_k")
    metric = c2.radio("Distance in the original embedding space", projection.METRICS[::-1], horizontal=True,
                      key="pj_nn_metric", help="cosine: 1 − cosine similarity; euclidean: straight-line distance.")
    if len(rows) == 1:
        query = rows[0]
        c3.markdown(f"Query: the point you clicked (row {query:,}).")
    else:
        query = int(c3.number_input("Query point (row number)", 0, len(X) - 1, 0, key="pj_query",
                                    help="Or click a single point on the 2-D map."))
    idx, dist = cache.neighbor_index(data.key, source, metric, X).query(query, k)  # exact, one scan + re-rank
    same = int((d.labels[idx] == d.labels[query]).sum())
    q1, q2 = st.columns([1, 6])
    query_image = thumbs(data, [query])[0]
    if query_image is not None:
        q1.image(query_image, width=THUMB * 2, caption=f"query: {d.label_names[d.labels[query]]} · {d.ids[query]}")
    q2.markdown(f"**{len(idx)} nearest neighbours** of `{d.ids[query]}` in the {X.shape[1]:,}-d space of "
                f"{source.title} ({metric} distance); **{same} of {len(idx)}** share its label.")
    _gallery(q2, data, idx.tolist(), [f"{d.label_names[d.labels[i]]} · d = {v:.3f}" for i, v in zip(idx, dist)])


@st.fragment
def compare(data: DataChoice, method: Method) -> None:
    """Two embedding sources side by side: each one's 2-D map (same method) and its quality scores."""
    if data.vectors is not None:
        st.info("Your vectors are the one embedding here. To compare models, embed the same images with each "
                "(`vizcore embed SOURCE --model ... --out DIR`) and open each folder, or use a bundled data set.")
        return
    st.caption(f"Both maps use {method.name} in 2-D with the settings in the sidebar and are coloured by label. The "
               "linear probe is skipped here for features wider than "
               f"{PROBE_AUTO_MAX_DIM:,} dimensions (run it from the main view).")
    defaults = DEFAULT_COMPARE.get(data.key, ("pixels", "pca:50"))
    keys = ("pj_cmp_a", "pj_cmp_b")
    sources = []
    for col, default, key in zip(st.columns(2), defaults, keys):  # pickers in one row, so the maps line up below
        with col:
            sources.append(source_picker(st, key, default, data, stop=False))
    scores = {}
    for col, source, key in zip(st.columns(2), sources, keys):
        with col, inline_errors(stop=False):
            if source is not None:
                scores[source.title] = _compare_column(data, source, Method(method.method, 2, method.seed,
                                                                            method.params), key)
    if len(scores) == 2 and len(set(scores)) == 2:
        st.plotly_chart(figures.quality_comparison_figure(scores), width="stretch", key="pj_cmp_bars")


def _compare_column(data: DataChoice, source: Source, method: Method, key: str) -> dict[str, float | None]:
    X = features(data, source)
    proj = project(data, source, method, X)
    display = MapOptions("label", "", "label", False)
    ident = map_id(data, source, proj)
    pm = cached_map((ident, display, 480), lambda: map_figure(data, source, proj, display, height=480,
                                                              selectable=False))
    pointmap.draw(pm, key=f"{key}_map", map_id=ident, thumbs=hover_sheets(data))
    labels = data.dataset.labels
    out: dict[str, float | None] = {"kNN accuracy": None, "linear-probe accuracy": None, "trustworthiness": None}
    cols = st.columns(3)
    if len(np.unique(labels)) >= 2:
        knn = cache.knn_score(data.key, source, X, labels)
        cols[0].metric("kNN accuracy", f"{knn.value:.1%}", help=f"{KNN_HELP} {knn.detail}")
        out["kNN accuracy"] = knn.value
        if X.shape[1] <= PROBE_AUTO_MAX_DIM:
            probe = cache.probe_score(data.key, source, X, labels)
            cols[1].metric("Linear probe", f"{probe.value:.1%}", help=f"{PROBE_HELP} {probe.detail}")
            out["linear-probe accuracy"] = probe.value
        else:
            cols[1].metric("Linear probe", "–", help=f"Skipped: {X.shape[1]:,}-d features take about a minute.")
    t = cache.trust_score(data.key, source, method, X, proj.coords)
    cols[2].metric("Trustworthiness", f"{t.value:.3f}", help=f"{TRUST_HELP} {t.detail}")
    out["trustworthiness"] = t.value
    st.caption(f"{X.shape[1]:,}-d features · {method.name} in {proj.seconds:.1f} s")
    return out


def _metadata(data: DataChoice) -> dict[str, list]:
    d = data.dataset
    return {"label": [d.label_names[k] for k in d.labels], "id": list(d.ids), **{k: list(v) for k, v in
                                                                                   d.metadata.items()}}


def exports(data: DataChoice, source: Source, X: np.ndarray, proj: projection.Projection, rows: list[int]) -> None:
    """Downloads (built only when clicked): the TF Projector zip; coordinates + metadata of all points or selected."""
    st.markdown(HOW_TO_LOAD)
    meta = _metadata(data)
    slug = "".join(c if c.isalnum() else "_" for c in f"{data.title}_{source.spec}").strip("_")
    tensor = f"{data.title} · {source.title}"
    images = data.dataset.images if data.dataset.images.shape[1] else None
    sprite = ", sprite" if images is not None else ""
    st.download_button(
        f"TensorFlow Projector files (zip: {len(X):,} vectors of {X.shape[1]:,} dims{sprite}, bookmark of this "
        f"{METHOD_NAMES[proj.method]} map" + (f", {len(rows):,} points selected)" if rows else ")"),
        lambda: export.write_zip(X, meta, sprite_images=images, projection=proj, tensor_name=tensor, selected=rows),
        file_name=f"{slug}_projector.zip", mime="application/zip", on_click="ignore", key="pj_dl_zip",
        icon=":material/download:", type="primary", disabled=len(X) > EXPORT_MAX,
        help=f"Up to {EXPORT_MAX:,} points here; for more, `vizcore export-projector` writes the files directly.")
    st.download_button(
        f"The selection as a TF Projector bookmark ({len(rows):,} points; load it after the files above)",
        lambda: export.selection_bookmark(proj, X.shape, rows, metadata=meta), file_name=f"{slug}_selection.txt",
        mime="text/plain", on_click="ignore", key="pj_dl_bookmark", icon=":material/bookmark:",
        disabled=not rows or len(X) > EXPORT_MAX,
        help="A bookmarks.txt whose one state shows this map with the selected points selected (selectedPoints).")
    table = export.coordinates_table(proj.coords, {k: v for k, v in meta.items() if k != "id"}, ids=meta["id"])
    name = f"{slug}_{proj.method}{proj.coords.shape[1]}d"
    c1, c2 = st.columns(2)
    c1.markdown(f"**All {len(table):,} points** (id, coordinates, label, metadata)")
    c2.markdown(f"**The selection** ({len(rows):,} points)" if rows else
                "**The selection** (select points on the 2-D map first)")
    for fmt, fn, mime in (("CSV", export.to_csv, "text/csv"), ("Parquet", export.to_parquet,
                                                                 "application/vnd.apache.parquet")):
        ext = fmt.lower()
        c1.download_button(f"Coordinates ({fmt})", lambda fn=fn: fn(table), file_name=f"{name}.{ext}", mime=mime,
                           on_click="ignore", key=f"pj_dl_all_{ext}", icon=":material/table:")
        c2.download_button(f"Selection ({fmt})", lambda fn=fn: fn(table, rows), file_name=f"{name}_selection.{ext}",
                           mime=mime, on_click="ignore", key=f"pj_dl_sel_{ext}", icon=":material/table:",
                           disabled=not rows)
