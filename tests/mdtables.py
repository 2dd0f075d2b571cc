"""Read the Markdown tables a page wrote (Home lists its models as Markdown, not as a data grid)."""

from __future__ import annotations


def tables(markdowns: list[str]) -> list[list[dict[str, str]]]:
    """Every pipe table in `markdowns` (an AppTest's `at.markdown` values), as rows of {column: cell}; code marks
    are dropped and escaped pipes restored."""
    found = []
    for text in markdowns:
        lines = [ln.strip() for ln in text.splitlines()]
        for i in range(len(lines) - 1):
            if lines[i].startswith("|") and set(lines[i + 1]) <= set("|-: ") and lines[i + 1].startswith("|"):
                if i and lines[i - 1].startswith("|"):
                    continue
                cols = _cells(lines[i])
                rows = []
                for line in lines[i + 2:]:
                    if not line.startswith("|"):
                        break
                    rows.append(dict(zip(cols, _cells(line))))
                found.append(rows)
    return found


def _cells(line: str) -> list[str]:
    parts = line.strip().strip("|").replace("\\|", "\0").split("|")
    return [p.strip().strip("`").replace("\0", "|") for p in parts]
