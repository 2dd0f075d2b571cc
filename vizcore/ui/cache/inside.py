"""Cached calls of the "Inside a block" page: the seed's
worked example as a model, the traces (embedding stage and head per image, one block per image and layer), the
Pre-LN / Post-LN measurement and ViT-B/16's parameter shapes. Keys follow the cache's rules: spec strings, widget
values and content keys, never images.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st
import torch
from PIL import Image
from timm.models.vision_transformer import VisionTransformer

import vizcore as vc
from vizcore.analysis import trace
from vizcore.ui.cache import core as cache

SEED_EXAMPLE = "preset:seed_example"  # the seed's worked example, a random-weight ViT (`trace.seed_example_model`)
SEED_TITLE = "Seed's worked example (random weights)"
_ONE_THREAD = threading.Lock()


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread, then restore the count (process-wide for threads started meanwhile). With both CPUs
    busy, two threads made the Pre/Post-LN measurement 17-24 s instead of 2-4 s and the tiny ViT's trace ~5x slower
    (0.5-0.9 s / ~0.1 s when idle). The lock keeps two sessions from restoring each other's count."""
    with _ONE_THREAD:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


@st.cache_resource(show_spinner=False)
def seed_example() -> vc.ModelHandle:
    return trace.seed_example_model()


def model(spec: str, pretrained: bool) -> vc.ModelHandle:
    """`cache.model(spec, pretrained)`, or the seed's worked example for SEED_EXAMPLE (random weights by design)."""
    return seed_example() if spec == SEED_EXAMPLE else cache.model(spec, pretrained)


@dataclass(frozen=True)
class InsideTrace:
    """One image through the embedding stage and the head; `shapes`: the seed's shape walk (through block 0)."""

    inp: trace.InputTrace
    head: trace.HeadTrace
    shapes: tuple[trace.SeedShape, ...]


@st.cache_data(max_entries=16, show_spinner="Tracing the image…")
def inside_trace(spec: str, pretrained: bool, key: str, _image: Image.Image) -> InsideTrace:
    """The embedding stage, the head and the shape walk for `_image` (named by its content `key`), native size."""
    handle = model(spec, pretrained)
    with one_thread():
        return InsideTrace(trace.trace_input(handle, [_image]), trace.trace_head(handle, [_image]),
                           tuple(trace.seed_shapes(handle, [_image])))


@st.cache_data(max_entries=32, show_spinner="Tracing the block…")
def block_trace(spec: str, pretrained: bool, key: str, _image: Image.Image, layer: int) -> trace.BlockTrace:
    """Every intermediate of block `layer` for `_image` (named by `key`): the block fragment's one cached call."""
    handle = model(spec, pretrained)
    with one_thread():
        return trace.trace_block(handle, [_image], layer=layer)


@st.cache_data(max_entries=16, show_spinner="Measuring the gradients of a 12-block ViT at initialisation, twice…")
def grad_norms(seed: int) -> trace.GradNorms:
    """Same weights both ways, on one thread (see `one_thread`)."""
    with one_thread():
        return trace.gradient_norms_pre_vs_post_ln(seed=seed)


@st.cache_resource(show_spinner=False)
def reference_vit_b() -> torch.nn.Module:
    """timm's ViT-B/16 (`vit_base_patch16_224`: the class defaults) on the meta device: shapes only, no memory."""
    with torch.device("meta"):
        return VisionTransformer()
