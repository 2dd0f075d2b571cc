"""Controls that keep their value: what a widget shows is what the view uses, across changes of input.

Streamlit forgets a widget's value whenever a run does not draw it (the image picker stops the page until a file
is uploaded; a tab or a strategy hides its controls), and a widget drawn again after that can show its default
while the server still holds the old value (issue 13: the MAE slider showed 0.75, the figure used 0.95). `keep`
fixes both, before the widget is drawn: it takes the widget's current value, else the last value the session saw,
else the default; fits it into the widget's range *now* (a 12-layer model's layer 11 is layer 3 of a 4-layer one);
and sets it through `st.session_state`, which the browser always displays. Widgets drawn through `keep` take no
`value` / `index` argument: the session state is their only source.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

_LAST = "_kept:"  # prefix of the non-widget copy, which Streamlit never deletes
_RUN, _DRAWN = "_kept_run", "_kept_drawn"  # the page-run counter; the run each kept widget was last drawn in


def new_run() -> None:
    """Count a page run (`app.py` calls this once per run, before the page; fragment reruns do not)."""
    st.session_state[_RUN] = st.session_state.get(_RUN, 0) + 1


def keep(key: str, default: Any, *, lo: Any = None, hi: Any = None, options: Sequence | None = None) -> str:
    """Give widget `key` its remembered value (clamped to [lo, hi] or reset when not in `options`); returns `key`.

    Call it right before drawing the widget, as `st.slider(..., key=keep("mae_ratio", 0.75, lo=0.0, hi=0.95))`.
    Range sliders (a tuple value) are clamped element-wise. The value is set through the session state only when
    the browser may show something else: the widget was not drawn in the previous page run (or in this one), or
    its value had to be fitted to a new range. A widget the user is moving is never set under their hand.
    """
    ss = st.session_state
    run = ss.get(_RUN, 0)
    drawn = ss.setdefault(_DRAWN, {})
    on_screen = key in ss and drawn.get(key, -2) >= run - 1
    value = ss[key] if key in ss else ss.get(_LAST + key, default)
    fitted = value
    if options is not None and fitted not in list(options):
        fitted = default if default in list(options) else list(options)[0]
    if lo is not None or hi is not None:
        fitted = tuple(_clamp(v, lo, hi) for v in fitted) if isinstance(fitted, (tuple, list)) else _clamp(fitted, lo,
                                                                                                          hi)
    if not on_screen or fitted != value:
        ss[key] = fitted
    ss[_LAST + key] = fitted
    drawn[key] = run
    return key


def remembered(key: str, default: Any = None) -> Any:
    """The value `keep` last gave widget `key` (also when the widget is not drawn in this run)."""
    ss = st.session_state
    return ss[key] if key in ss else ss.get(_LAST + key, default)


def forget(key: str) -> None:
    """Drop what `keep` remembers for widget `key` (call before drawing it): it starts again from its default."""
    st.session_state.pop(key, None)
    st.session_state.pop(_LAST + key, None)


def _clamp(value, lo, hi):
    if lo is not None and value < lo:
        return lo
    if hi is not None and value > hi:
        return hi
    return value


# The shared pickers' own controls (`vizcore.ui.widgets`), kept the same way: a page calls these right before it
# draws the picker, so an upload that stops the page does not reset them.
DISPLAY = {"opacity": 0.6, "colorscale": "Inferno", "interp": "bilinear"}


def keep_image_picker(samples: Sequence[str], *, key: str = "image_source", default: str = "Sample") -> None:
    """The Sample / Upload choice and the chosen sample of `widgets.image_picker` (or `image_set_picker`)."""
    keep(key, default)
    if samples and st.session_state[key] == default:  # the sample box is drawn only while samples are chosen
        keep("sample", samples[0], options=samples)


def keep_fit_and_display(fits: Sequence[str]) -> None:
    """`widgets.fit_picker` (its options for this model: `fits`) and `widgets.display_options`."""
    keep("fit", fits[0], options=fits)
    for key, default in DISPLAY.items():
        keep(key, default)
