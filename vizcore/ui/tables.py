"""Small tables as Markdown: every cell in full and as plain text, without pandas (Home's model lists)."""

from __future__ import annotations

from collections.abc import Sequence

# Backslash-escape what Markdown (and Streamlit's `:red[...]` / `:emoji:` directives) would read as markup; a cell is
# one line.
_PLAIN = str.maketrans({c: "\\" + c for c in "\\`*_[]<>:|$~#"} | {"\n": " ", "\r": " "})


def markdown(rows: Sequence[dict[str, object]]) -> str:
    """`rows` (one dict per row, the first row's keys as the columns) as a GitHub-flavoured Markdown table whose
    cells show their text literally: a model card's `a|b`, `2*3*4` or `:red[x]` reads as written.

    Raises:
        ValueError: no rows (there is no header to draw).
    """
    if not rows:
        raise ValueError("A table needs at least one row.")
    cols = list(rows[0])
    lines = ["| " + " | ".join(str(c).translate(_PLAIN) for c in cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(str(r[c]).translate(_PLAIN) for c in cols) + " |" for r in rows])
