"""Show user-caused errors inline and keep the app running."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from vizcore.errors import VizcoreError

log = logging.getLogger("vizcore.ui")


@contextmanager
def inline_errors(stop: bool = True) -> Iterator[None]:
    """Turn a VizcoreError into an inline message; other errors into a short apology (details in the log).

    With `stop`, the rest of the page run is skipped after an error (widgets already drawn stay usable).
    """
    try:
        yield
    except VizcoreError as e:
        st.error(str(e), icon="⚠️")
        if stop:
            st.stop()
    except Exception:
        log.exception("unexpected error in a page")
        st.error("Something went wrong while computing this view. Try another image or model; the error was "
                 "logged on the server.", icon="🛑")
        if stop:
            st.stop()
