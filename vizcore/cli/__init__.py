"""The `vizcore` command. One module per command group; each has `add(sub)`, which registers its sub-commands
(every one with --help and an example). Adding a command is adding its name and module to `_LAZY`.

A run loads only the module of the command it names (`vizcore attention ...` never imports the training recipes,
scikit-learn or pandas); `vizcore --help`, an unknown command and `parser()` load them all.
"""

from __future__ import annotations

import argparse
import sys

from vizcore.cli import heap
from vizcore.errors import VizcoreError
from vizcore.lazy import load
from vizcore.threads import set_torch_threads

# command name -> the module that registers it (`add(sub)`), in `vizcore --help` order
_LAZY = {
    "models": "vizcore.cli.models",
    "app": "vizcore.cli.models",
    "download": "vizcore.cli.download",
    "train": "vizcore.cli.train",
    "attention": "vizcore.cli.attention",
    "inside": "vizcore.cli.inside",
    "mae": "vizcore.cli.mae",
    "export-projector": "vizcore.cli.projector",
    "embed": "vizcore.cli.embed",
    "project": "vizcore.cli.project",
}


def parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command, or only the module registering `command` (a name in `_LAZY`)."""
    p = argparse.ArgumentParser(prog="vizcore", description="See what image models learn.",
                                epilog="Example: vizcore attention cat.jpg --view rollout --out map.png")
    sub = p.add_subparsers(dest="command", required=True)
    modules = [_LAZY[command]] if command in _LAZY else dict.fromkeys(_LAZY.values())
    for name in modules:
        load(name).add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (2 after a `VizcoreError`, printed as one line on stderr).

    With no `argv` this is the process's own command line (the `vizcore` script, `python -m vizcore`), and the
    garbage collector follows `vizcore.cli.heap` (no collection while loading, none of the loaded heap at exit)."""
    set_torch_threads()  # before any command module imports torch (vizcore/threads.py says why one thread)
    if argv is None:
        heap.own_process()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with heap.loading():  # the command's module: most import torch
            args = parser(argv[0] if argv else None).parse_args(argv)
        return args.run(args) or 0
    except VizcoreError as e:
        print(f"vizcore: {e}", file=sys.stderr)
        return 2
    finally:
        heap.before_exit()
