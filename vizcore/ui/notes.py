"""Notes a view owes its reader when the input makes the picture say less than it seems to."""

from __future__ import annotations

import streamlit as st

UPSCALE_WARN = 4.0  # the model sees the image enlarged at least this many times: warn


def upscale_factor(image_size: tuple[int, int], model_size: tuple[int, int]) -> float:
    """How many times the model's input (H, W) enlarges an image of `image_size` (width, height), PIL order."""
    w, h = (max(1, int(v)) for v in image_size)
    H, W = (int(v) for v in model_size)
    return max(H / h, W / w)


def upscaled(name: str, image_size: tuple[int, int], model_size: tuple[int, int]) -> None:
    """Warn when the model sees image `name` enlarged `UPSCALE_WARN` times or more (a 1 x 1 upload: 64 times)."""
    k = upscale_factor(image_size, model_size)
    if k < UPSCALE_WARN:
        return
    w, h = image_size
    st.warning(f"{name} is only {w}×{h} px: the model sees it enlarged {k:.0f}× to {model_size[1]}×{model_size[0]} "
               "px, so there is almost no detail in it. Predictions, maps and reconstructions describe that "
               "enlargement, not a picture.", icon=":material/zoom_in:")
