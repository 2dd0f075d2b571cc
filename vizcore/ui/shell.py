"""App shell glue: make every request go through `app.py`'s navigation, even the first deep link.

Streamlit decides once per process whether the app uses the legacy `pages/` folder mechanism: until some run
of `app.py` calls `st.navigation`, a request for `/attention` executes `pages/attention.py` directly (no page
titles, no shared setup). Every page calls `ensure_navigation()` first: in that legacy run it switches the
process to `st.navigation` mode and reruns, so `app.py` routes the same URL properly.
"""

from __future__ import annotations

import streamlit as st


def ensure_navigation() -> None:
    """Rerun through `app.py` when Streamlit served this page with its legacy `pages/` mechanism."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the legacy flag: nothing to fix
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
