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


def rejected_uploads(rejected: list[tuple[str, str]], kept: int) -> None:
    """List every upload that was left out by name with its reason; the good ones are used. Stops the page when
    none is left (there is nothing to compute on)."""
    if not rejected:
        return
    lines = "\n".join(f"- **{name}**: {reason}" for name, reason in rejected)
    if kept == 0:
        st.error(f"None of the {len(rejected)} uploaded files could be used:\n\n{lines}", icon=":material/error:")
        st.stop()
    st.warning(f"Using {kept} of {kept + len(rejected)} uploaded files; left out:\n\n{lines}",
               icon=":material/warning:")
