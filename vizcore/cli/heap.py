"""The command line's use of Python's cyclic garbage collector: none while a command loads, none at exit.

A `vizcore` command is one short process whose objects are nearly all the modules it imports (torch, timm and,
through torchvision, `torch._dynamo` and sympy: about 1.5 million objects), and they live until it exits. The
collector walks that growing heap again and again while it loads (its full collections run each time the old
generation has grown by a quarter), then once more when the interpreter shuts down. Measured on this 2-core
machine (`python -c "import timm"`, issue 15): 4.4-4.8 s wall as is, 3.9-4.0 s with the heap frozen before exit,
3.1-3.6 s with no collection while importing as well.

So when `vizcore.cli.main` runs the process's own command line (`own_process`), it collects nothing while the
command parses and loads its model (`loading`), then freezes what was loaded (`gc.freeze`, as `vizcore.ui.reuse`
does for the app) and collects normally during the work, which only looks at objects made after the freeze.
Frozen objects are still freed by reference counting; only reference cycles among them are never collected, and
the process ends soon after. `main()` called from Python (tests, notebooks) changes nothing: freezing a long-lived
caller's heap would keep its cyclic garbage forever.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_own_process = False  # set by `own_process`: this interpreter exists to run one command


def own_process() -> None:
    """Mark this interpreter as a `vizcore` command's own process (the console script or `python -m vizcore`)."""
    global _own_process
    _own_process = True


@contextmanager
def loading() -> Iterator[None]:
    """In a command's own process: no cyclic collection inside the block, then freeze what it loaded. Elsewhere, or
    nested inside another `loading` (the collector already off), nothing."""
    if not (_own_process and gc.isenabled()):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def before_exit() -> None:
    """In a command's own process: freeze the heap, so the interpreter's shutdown collection skips it (a no-op
    elsewhere). `gc.freeze` walks nothing, it moves the collector's lists."""
    if _own_process:
        gc.freeze()
