"""Read the Markdown tables a page wrote (Home lists its models as Markdown, not as a data grid)."""

from __future__ import annotations

import re

_PIPE = re.compile(r"(?<!\\)((?:\\\\)*)\|")  # a pipe after an even number of backslashes: a cell boundary


def tables(markdowns: list[str]) -> list[list[dict[str, str]]]:
    """Every pipe table in `markdowns` (an AppTest's `at.markdown` values), as rows of {column: cell}, cells with
    their backslash escapes undone. A row with more or fewer cells than the header fails (a cell split by `|`)."""
    found = []
    for text in markdowns:
        lines = [ln.strip() for ln in text.splitlines()]
        for i in range(len(lines) - 1):
            starts = lines[i].startswith("|") and not (i and lines[i - 1].startswith("|"))
            if starts and lines[i + 1].startswith("|") and set(lines[i + 1]) <= set("|-: "):
                cols = _cells(lines[i])
                rows = []
                for line in lines[i + 2:]:
                    if not line.startswith("|"):
                        break
                    cells = _cells(line)
                    assert len(cells) == len(cols), f"{len(cells)} cells under {len(cols)} columns: {line}"
                    rows.append(dict(zip(cols, cells)))
                found.append(rows)
    return found


def _cells(line: str) -> list[str]:
    parts = _PIPE.sub(lambda m: m.group(1) + "\0", line.strip()).split("\0")[1:-1]
    return [re.sub(r"\\(.)", r"\1", p.strip()) for p in parts]
