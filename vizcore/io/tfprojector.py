"""The TensorFlow Embedding Projector's own parsing rules, ported so vizcore reads TSV files exactly as it does.

Smilkov et al., "Embedding Projector" (2016); the rules are those of `vz_projector/data-provider.ts`
(`streamParse`, `parseTensors`, `parseMetadata`) and of the JavaScript built-ins they call:

- Bytes are read in chunks of `CHUNK_BYTES` (1,000,000); each chunk is decoded as UTF-8 on its own by a
  `FileReader`: a byte-order mark at the start of *any* chunk is dropped, and a multi-byte character split by a
  chunk boundary becomes U+FFFD. Lines are split on LF only (CR stays in the line). A file whose last chunk holds
  no LF, and an empty file, never finish parsing (the projector hangs): refused here. A file of k * 1,000,000 + 1
  bytes loses its last byte.
- Blank lines (empty after JavaScript `trim()`, whose whitespace set `JS_WHITESPACE` includes U+FEFF and U+00A0
  but not U+0085 or U+001C-U+001F) are skipped, in both files.
- `vectors.tsv`: each line is `trim()`med and split on tab; when the first field is not a number, or the row has
  one field more than the first row's dimension, the first field is a label and the rest the vector. Fields
  become numbers by JavaScript `Number()` (`js_number`: "" is 0, hex / octal / binary literals, "Infinity";
  anything else not a decimal literal is NaN). Every row must have the first row's dimension, which must be >= 2.
- `metadata.tsv`: the first non-blank line is a header exactly when it contains a tab (else the one column is
  called "label"); every other non-blank line is split on tab and its values assigned to the columns by position
  (missing -> None, "" -> None). Values are stored on a plain JavaScript object, so a later column of the same
  name overwrites an earlier one and a column named "__proto__" loses its values (`UNSTORABLE_NAMES`).

May import: `vizcore.errors` only.
"""

from __future__ import annotations

import re

import numpy as np

from vizcore.errors import InputError

CHUNK_BYTES = 1_000_000
MAX_SPRITE_PX = 8192  # MAX_SPRITE_IMAGE_SIZE_PX: a larger sprite is refused by the projector
# ECMAScript WhiteSpace + LineTerminator (what String.prototype.trim removes): tab, VT, FF, space, NBSP, BOM, the
# Unicode space separators (Zs), LF, CR, LS, PS. Not U+0085, U+180E or U+001C-U+001F (Python's str.strip takes them).
JS_WHITESPACE = ("\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
                 "\u2028\u2029\u202f\u205f\u3000\ufeff")
UNSTORABLE_NAMES = ("__proto__",)  # assigning a string to obj["__proto__"] is silently ignored
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_RADIX = re.compile(r"0([xX][0-9a-fA-F]+|[oO][0-7]+|[bB][01]+)")


def js_trim(text: str) -> str:
    """JavaScript `String.prototype.trim`."""
    return text.strip(JS_WHITESPACE)


def js_number(text: str) -> float:
    """JavaScript `Number(string)`: trim; "" -> 0; decimal, 0x / 0o / 0b and (+/-)Infinity literals; else NaN."""
    s = js_trim(text)
    if s == "":
        return 0.0
    if _DECIMAL.fullmatch(s):
        return float(s)
    if s in ("Infinity", "+Infinity"):
        return float("inf")
    if s == "-Infinity":
        return float("-inf")
    if _RADIX.fullmatch(s):
        return float(int(s[2:], {"x": 16, "o": 8, "b": 2}[s[1].lower()]))
    return float("nan")


def stream_lines(content: bytes) -> list[str]:
    """The lines `streamParse` hands to its callback (chunked UTF-8 decoding, LF splits, its end-of-file rules)."""
    if not content:
        raise InputError("The file is empty: the TensorFlow Projector never finishes reading an empty file.")
    lines: list[str] = []
    data, offset, last = "", 0, len(content) - 1
    while True:
        chunk = content[offset : offset + CHUNK_BYTES]
        text = chunk.decode("utf-8", errors="replace")
        text = text[1:] if text.startswith("\ufeff") else text  # FileReader.readAsText drops a leading BOM
        offset += CHUNK_BYTES
        parts = text.split("\n")
        first = data + parts[0]
        if len(parts) == 1:
            if offset >= len(content):
                raise InputError("The file's last 1,000,000 bytes hold no line break: the TensorFlow Projector "
                                 "would never finish reading it. End the file with a newline.")
            data = first
            continue
        data = parts[-1]
        lines.append(first)
        lines.extend(parts[1:-1])
        if offset >= last:
            if data:
                lines.append(data)
            return lines


def parse_metadata(content: bytes) -> tuple[list[str], list[dict[str, str | None]]]:
    """`parseMetadata`: (column names, one {column: value or None} per data row), as the projector stores them."""
    columns, rows, first = ["label"], [], True
    for line in stream_lines(content):
        if not js_trim(line):
            continue
        if first:
            first = False
            if "\t" in line:
                columns = line.split("\t")
                continue
        values = line.split("\t")
        row: dict[str, str | None] = {}
        for i, name in enumerate(columns):
            value = values[i] if i < len(values) else None
            if name not in UNSTORABLE_NAMES:
                row[name] = None if value == "" else value
        rows.append(row)
    return columns, rows


def parse_tensors(content: bytes) -> tuple[np.ndarray, list[str] | None]:
    """`parseTensors`: (N, D) float32 vectors and the per-row labels taken from a first column (None if none).

    Raises InputError where the projector fails ("Vector dimensions do not match", "only one dimension").
    """
    vectors: list[list[float]] = []
    labels: list[str | None] = []
    dim = None
    for n, line in enumerate(stream_lines(content), 1):
        line = js_trim(line)
        if line == "":
            continue
        row = line.split("\t")
        if np.isnan(js_number(row[0])) or dim == len(row) - 1:
            labels.append(row[0])
            row = row[1:]
        else:
            labels.append(None)
        vec = [js_number(v) for v in row]
        dim = len(vec) if dim is None else dim
        if len(vec) != dim:
            raise InputError(f"Line {n} of the vectors file has {len(vec)} values where the first row has {dim}: "
                             "every row needs the same number of tab-separated values.")
        if dim <= 1:
            raise InputError("The vectors have one dimension; the TensorFlow Projector needs at least 2 per row.")
        vectors.append(vec)
    if not vectors:
        raise InputError("The vectors file holds no rows. Give one tab-separated row of numbers per point.")
    with np.errstate(over="ignore"):
        X = np.asarray(vectors, dtype=np.float32)  # like the projector's Float32Array
    return X, (labels if any(v is not None for v in labels) else None)
