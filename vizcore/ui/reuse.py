"""Work done once and reused across reruns: figures kept per control value, and the loaded heap frozen.

Figures: a slider moved back to a value it had should show its picture at once. `figure` builds a figure once per
`ident` (everything it depends on, as small values: model spec, image content key, controls, display options)
and hands the same object to every later run and session; `st.plotly_chart` copies a figure before sending it and
nothing changes a figure after it is built, so sharing one is safe.

Heap: Streamlit runs a full `gc.collect(2)` after every script run, fragment reruns included
(`runner.postScriptGC`). With torch, timm, plotly and a model loaded the collector walks about half a million
objects, 0.3-0.7 s on this 2-core machine, holding the GIL, so the messages of the run that just finished (a
slider's new picture) wait behind it. Nearly all of those objects are modules, classes and weights that live as
long as the process. `settle` collects once and moves them into the permanent generation (`gc.freeze`, as CPython
documents for long-lived servers); later collections look only at objects created since, and cost milliseconds.
Frozen objects are still freed by reference counting; only cycles among them are never collected.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

T = TypeVar("T")
REFREEZE = 100_000  # unfrozen long-lived objects (another model, another page's imports) that call for a new freeze


@st.cache_resource(max_entries=512, show_spinner=False)
def figure(ident: tuple, _build: Callable[[], T]) -> T:
    """`_build()`, built once per `ident` (hashable small values naming everything the figure depends on)."""
    return _build()


def settle() -> None:
    """Freeze the heap after a page's first complete run, and again once it has grown by REFREEZE objects."""
    if gc.get_freeze_count() and len(gc.get_objects(generation=2)) < REFREEZE:
        return
    gc.collect()
    gc.freeze()
