"""Numba, set up before it is imported: one on-disk cache of compiled code shared by UMAP and pynndescent (analysis)
and the TSV writer (export), and error messages without colour (colorama reassigns sys.stdout from any thread).

May import: nothing from vizcore.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def prepare_numba() -> None:
    """Call before anything imports numba (UMAP, pynndescent, the TSV writer): two settings through its environment.

    - Compilations are cached on disk in a writable user directory, unless NUMBA_CACHE_DIR is already set:
      `~/.cache/vizcore/numba`, else a temp directory. Also works after numba is imported (numba reads
      `numba.config.CACHE_DIR` when it first caches a function).
    - Numba's error messages are not coloured (NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING, unless set). With colorama
      installed, numba wraps every message it formats in colorama's `init()` / `deinit()`, which reassign
      `sys.stdout` and `sys.stderr` process-wide and restore the streams seen at `init`. Formatted in the UMAP
      warm-up's background thread while another thread prints, that sent the other thread's output to a stale
      stream (seen as lost CLI output under pytest's capture). Numba reads it once, when `numba.core.errors` is
      first imported: a script that imports umap or numba before vizcore keeps the colours.
    """
    os.environ.setdefault("NUMBA_DISABLE_ERROR_MESSAGE_HIGHLIGHTING", "1")
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    for base in (Path.home() / ".cache" / "vizcore" / "numba", Path(tempfile.gettempdir()) / "vizcore-numba"):
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(base, os.W_OK):
            os.environ["NUMBA_CACHE_DIR"] = str(base)
            if "numba" in sys.modules:
                sys.modules["numba"].config.CACHE_DIR = str(base)
            return
