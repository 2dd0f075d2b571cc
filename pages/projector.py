"""Embedding projector: every image of a data set as one point, mapped by PCA, t-SNE or UMAP, with selection,
nearest neighbours, quality scores, a side-by-side comparison and TensorFlow Projector export."""

import streamlit as st

from vizcore.ui.shell import ensure_navigation

ensure_navigation()

from vizcore.ui import baseline_views  # noqa: E402
from vizcore.ui import projector_map as mapview  # noqa: E402
from vizcore.ui import projector_state as state  # noqa: E402
from vizcore.ui import projector_views as views  # noqa: E402
from vizcore.ui.errors import inline_errors  # noqa: E402

st.title("Embedding projector")
st.caption("A model turns each image into a vector; similar images should get nearby vectors. Map the vectors of "
           "a whole data set to 2-D or 3-D, colour them by label, select a region to see its images, and check "
           "the nearest neighbours in the original space. Start with raw pixels, then try a model, or UMAP.")

data = state.data_picker()
source = state.source_picker(st.sidebar, "pj_source", "pixels", data)
with inline_errors():
    data = state.resolve(data, source)  # a large upload: embedded in batches with progress, kept on disk
method = state.method_picker(data)
with inline_errors():
    X = state.features(data, source)
    proj = state.project(data, source, method, X)
st.markdown(views.describe(data, source, X, proj))
display = mapview.map_controls(data, method)
matches = mapview.search_matches(data, display)

left, right = st.columns([4, 1])
with left, inline_errors():  # a broken stored map is said inline
    selected = mapview.draw_map(data, source, proj, display, matches)
with right:
    views.quality(data, source, method, X, proj)

mapview.follow_selection(selected)
tabs = st.tabs(state.TABS, key="pj_tab", on_change="rerun")
with tabs[0], inline_errors(stop=False):
    if tabs[0].open:
        views.selection(data, selected, matches)
with tabs[1], inline_errors(stop=False):
    if tabs[1].open:
        views.neighbours(data, source, X, selected)
with tabs[2], inline_errors(stop=False):
    if tabs[2].open:
        views.compare(data, method)
with tabs[3], inline_errors(stop=False):
    if tabs[3].open:
        views.exports(data, source, X, proj, selected)
with st.expander("Transfer-learning baseline: a pretrained backbone vs random weights vs pixels"):
    baseline_views.section(data)
state.warm_umap()
