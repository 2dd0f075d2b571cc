"""After the first page's run, load the model libraries in the background, so the first model page opens fast.

Home imports no torch, timm or scikit-learn (issue 15: the server starts and Home is interactive about as fast as a
trivial Streamlit app). The Attention page, usually the next one opened, then paid for them: torch, timm (which
imports torchvision, `torch._dynamo` and sympy) and building the bundled ViT take about 5 s of its first visit on
this 2-core machine. `start` runs that work once per process in a daemon thread, `GRACE_S` after the run that
called it has finished (it waits for that script thread), while the user reads the page:

1. `vizcore.ui.cache.vit`: torch and the ViT analyses; `figures.head_maps`: plotly's subplots and the attention
   figures;
2. `cache.model` of the first listed ViT (the one the Attention page opens with): timm and its weights, into the
   app's shared model cache, where the page finds it (a page asking for it meanwhile waits for this load, it does
   not load it twice). Its "Loading model…" spinner has no page here, so Streamlit logs one "missing
   ScriptRunContext" warning for this thread;
3. `cache.samples`: the sample images with their content keys, which every image picker lists.

The cyclic garbage collector stays off while it loads (it would walk the growing heap of about 1.5 million objects
again and again, holding the GIL), then what was loaded is frozen (`gc.freeze`, as `vizcore.ui.reuse.settle`
does), so the page's first run does not pay for one full collection of it either.

A page opened while this runs first waits for it to finish (`wait`, called by app.py for every page but Home),
under a spinner: the page needs the same libraries, so it loses nothing, and no two threads import torch's modules
at once (they import each other in cycles, and two threads inside one cycle make Python's import machinery fail
one of them with a deadlock error). A page opened before the warm-up began cancels it and loads alone.
`VIZCORE_WARMUP=0` turns it off (tests that check what Home alone imports).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable

import streamlit as st

from vizcore import figures
from vizcore.ui import cache

log = logging.getLogger("vizcore.ui")

GRACE_S = 0.5  # after the run: its last messages and media go out before an import holds the GIL (see `_warm`)

_lock = threading.Lock()
_thread: threading.Thread | None = None
_after: threading.Thread | None = None  # the script run the warm-up waits for before it starts
_begun = threading.Event()  # set (under `_lock`) when the warm-up starts loading
_page_first = False  # set (under `_lock`) when a model page ran before the warm-up began: it is not needed then


def enabled() -> bool:
    """False when $VIZCORE_WARMUP is "0" (or "false" / "no" / "off")."""
    return os.environ.get("VIZCORE_WARMUP", "1").strip().lower() not in ("0", "false", "no", "off")


def start() -> threading.Thread | None:
    """Once per process (and only when `enabled`), start the warm-up thread; it begins when the calling script
    run's thread has finished. Returns that thread (the same one on later calls), or None when disabled."""
    global _thread, _after
    if not enabled():
        return None
    with _lock:
        if _thread is None:
            _after = threading.current_thread()
            _thread = threading.Thread(target=_warm, args=(_after,), name="vizcore-warmup", daemon=True)
            _thread.start()
        return _thread


def unless_loading(step: Callable[[], object]) -> None:
    """Run `step` unless the warm-up is importing and loading now (then skip it); it cannot begin meanwhile.

    For code that reads a module from `sys.modules` without importing it: `vizcore.threads.set_torch_threads` looks
    for torch there and would meet a half-imported one (no `get_num_threads` yet). Skipping it then is safe: torch
    reads OMP_NUM_THREADS, which the first run set, when its libraries load."""
    with _lock:
        thread = _thread
        if not (thread is not None and _begun.is_set() and thread.is_alive()):
            step()


def wait() -> None:
    """Block, under a spinner, until a warm-up that has begun loading has finished. A warm-up that has not begun
    (its run or its grace period is not over) never will: this page loads what it needs itself, alone."""
    global _page_first
    with _lock:
        thread, begun = _thread, _begun.is_set()
        if not begun:
            _page_first = True
    if thread is None or not begun or not thread.is_alive():
        return
    with st.spinner("Loading torch, timm and the default model (once per server)…", show_time=True):
        thread.join()


def _warm(after: threading.Thread) -> None:
    if after is not threading.main_thread():  # a Streamlit script thread ends after its run (and its gc)
        after.join()
    # Measured (server logs against the browser, load 18-22): starting at once delayed Home's "interactive" in
    # the browser by 0.35-0.8 s; the event loop that sends the run's last messages waits for the GIL, which the
    # first imports (loading libtorch) hold for long stretches.
    time.sleep(GRACE_S)
    with _lock:
        if _page_first:  # a model page is loading (or has loaded) what it needs: never import beside it
            return
        _begun.set()
    collecting = gc.isenabled()
    gc.disable()
    try:
        cache.vit  # noqa: B018 -- loads torch and the ViT analyses (vizcore.ui.cache.vit)
        figures.head_maps  # noqa: B018 -- loads the attention figures and plotly's subplots
        specs = cache.model_specs("vit")
        if specs:
            cache.model(specs[0], True)
        cache.samples()  # the sample images and their content keys (every image picker)
    except Exception as e:  # a warm-up only: the page reports the same failure itself, in place
        log.warning("vizcore warm-up stopped: %s: %s", type(e).__name__, e)
    finally:
        if collecting:
            gc.freeze()
            gc.enable()
