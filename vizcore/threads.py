"""How many CPU threads torch uses in the app and the CLI: chosen here, once, for both.

Default: ONE intra-op thread (`DEFAULT_THREADS`). This machine class has 2 cores, and the app (Streamlit serves
every session from threads of one process) or a second job usually keeps one of them busy; a 2-thread torch op
then spin-waits for the busy core. Measured here (2 cores, load average 7-11 from other jobs, issue 15): a ViT-S/16
attention capture of one 224 px image took 0.18-0.23 s with 1 thread and 2.5-3.2 s with 2 (single runs 0.36-4.2 s);
an anatomy trace 0.03-0.05 s vs ~1.2 s; the MAE training recipe ran 5x slower until OMP_NUM_THREADS=1.
`vizcore attention` on the bundled ViT is import-bound (about the same with 1 or 2). On an idle machine 2 threads
make a large ViT's forward faster: set `VIZCORE_THREADS=2` there.

Override: `VIZCORE_THREADS`, else `OMP_NUM_THREADS` (the standard variable, honoured as it is), else the default.
"""

from __future__ import annotations

import os
import sys

DEFAULT_THREADS = 1


def torch_threads() -> int:
    """The intra-op thread count to use: $VIZCORE_THREADS, else $OMP_NUM_THREADS, else `DEFAULT_THREADS` (>= 1;
    a value that is not a positive whole number is ignored)."""
    for var in ("VIZCORE_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return DEFAULT_THREADS


def set_torch_threads() -> int:
    """Apply `torch_threads()` without importing torch: OMP_NUM_THREADS / MKL_NUM_THREADS for a torch imported
    later (read when its libraries load), `torch.set_num_threads` when torch is already loaded. Cheap and
    idempotent: the app calls it on every run, the CLI once. Returns the thread count."""
    n = torch_threads()
    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ.setdefault("MKL_NUM_THREADS", str(n))
    torch = sys.modules.get("torch")
    loading = getattr(getattr(torch, "__spec__", None), "_initializing", False)  # another thread importing it
    if torch is not None and not loading and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n
