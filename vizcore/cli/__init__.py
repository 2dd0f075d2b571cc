"""The `vizcore` command. One module per command group; each has `add(sub)`, which registers its sub-commands
(every one with --help and an example). Adding a command is adding one module to `COMMANDS`."""

from __future__ import annotations

import argparse
import sys

from vizcore.cli import attention, download, embed, inside, mae, models, project, projector, train
from vizcore.errors import VizcoreError

COMMANDS = (models, download, train, attention, inside, mae, projector, embed, project)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vizcore", description="See what image models learn.",
                                epilog="Example: vizcore attention cat.jpg --view rollout --out map.png")
    sub = p.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except VizcoreError as e:
        print(f"vizcore: {e}", file=sys.stderr)
        return 2
