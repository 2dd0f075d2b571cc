"""Where numba keeps its compiled code: one on-disk cache shared by UMAP (analysis) and the TSV writer (export).

May import: nothing from vizcore.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path


def use_numba_disk_cache() -> None:
    """Cache numba compilations on disk in a writable user directory, unless NUMBA_CACHE_DIR is already set.

    `~/.cache/vizcore/numba`, else a temp directory. Works before numba is imported (environment variable) and
    after (numba reads `numba.config.CACHE_DIR` when it first caches a function).
    """
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
