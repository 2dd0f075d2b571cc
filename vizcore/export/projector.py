"""Exports: a folder the TensorFlow Embedding Projector opens, and coordinate tables (CSV / Parquet).

Smilkov et al., "Embedding Projector: Interactive Visualization and Interpretation of Embeddings" (2016). The
files follow the projector's own parsers (tensorboard/plugins/projector/vz_projector, `data-provider.ts`):

Every file reads back identically through a port of those parsers (`vizcore.io.tfprojector`; tests replay
hostile data through it):

- `vectors.tsv`: one row per vector, tab-separated floats, no header, LF line endings, at least 2 dimensions
  (the projector refuses 1). Values carry 9 significant digits, so every float32 reads back bit for bit,
  formatted by the numba kernel in `vizcore.export.tsv`, about 10x faster than `np.savetxt`.
- `metadata.tsv`: the projector treats the first non-blank line as a header exactly when it contains a tab, so
  a header is written exactly when there is more than one column. Tabs, CR/LF and every other line separator
  inside a value become a space; None, NaN, empty and values that JavaScript's `trim()` empties (its whitespace
  includes U+FEFF and U+00A0) become `EMPTY` (a blank line is skipped by the parser and shifts every later
  row). Column names are made unique (the projector keeps the last of equal names) and "__proto__" is renamed
  (a JavaScript object cannot store it). The projector decodes 1,000,000-byte chunks one by one, so a line that
  would put a chunk boundary inside a multi-byte character or right before a U+FEFF gets blank lines (skipped)
  before it until it does not. UTF-8, LF.
- `sprite.png`: a square grid of ceil(sqrt(N)) x ceil(sqrt(N)) cells, image i at row i // side, column
  i % side; at most 8192 px a side (`MAX_SPRITE_PX`, the projector refuses larger), thumbnails shrunk to fit;
  greyscale becomes RGB; unused cells are black.
- `bookmarks.txt`: a JSON list with one projector `State` (`data.ts`) that carries vizcore's own full-N map.
  Written fields: `projections` (per point `{"tsne-0": x, "tsne-1": y[, "tsne-2": z]}` in vector order),
  `selectedProjection: "tsne"` and `tSNEIteration: 1` (the projector only renders a t-SNE projection whose
  iteration is > 0; "tsne" is the one projection type every projector version restores from a bookmark, the
  true method is in `label`), `tSNEis3d`/`umapIs3d`, `dataSetDimensions` [N, D] (checked by "Load bookmarks"),
  `filteredPoints: null` and `selectedPoints` (the rows selected in the app, else []), `cameraDef: null` (the
  projector's default camera), label/colour options naming the first metadata column ("label" for a single,
  header-less column, as the projector names it), and the scalar fields
  `restoreUIFromBookmark` reads (`pcaComponentDimensions`, `tSNEPerplexity`, `tSNELearningRate`,
  `umapNeighbors`, `umapMinDist`, `custom*`) so that it never reads an undefined value.
- `projector_config.json` (standalone projector, `?config=`) and `projector_config.pbtxt` (TensorBoard's
  projector plugin: `tensorboard --logdir <out_dir>`), paths relative to the folder.

Opening it: serve the folder and open the projector with `?config=projector_config.json`, or run TensorBoard on
it; the bookmark then appears in the bookmark panel (bottom right): click it to show vizcore's map. On
projector.tensorflow.org, "Load" takes vectors.tsv and metadata.tsv, and the bookmark panel's upload button
takes bookmarks.txt (the projector checks that its [N, D] matches the loaded vectors).
"""

from __future__ import annotations

import io
import json
import math
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from vizcore.errors import InputError
from vizcore.export.tsv import finite_vectors, write_vectors_tsv
from vizcore.io.tfprojector import CHUNK_BYTES, UNSTORABLE_NAMES, js_trim

EMPTY = "<empty>"          # written for None / NaN / empty / whitespace-only metadata values
MAX_SPRITE_PX = 8192       # the projector's MAX_SPRITE_IMAGE_SIZE_PX
_BREAKS = re.compile("[\t\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")  # every separator str.splitlines knows, and tab


def metadata_frame(metadata, n: int) -> pd.DataFrame:
    """Metadata as a DataFrame of n rows: a DataFrame, a mapping column -> sequence, or one sequence ("label")."""
    if isinstance(metadata, pd.DataFrame):
        frame = metadata.reset_index(drop=True)
    elif isinstance(metadata, Mapping):
        for name, column in metadata.items():
            if len(column) != n:
                raise InputError(f"Metadata column {name!r} has {len(column)} values for {n} vectors; "
                                 "give exactly one value per vector.")
        frame = pd.DataFrame({str(k): list(v) for k, v in metadata.items()})
    elif isinstance(metadata, Sequence | np.ndarray | pd.Series) and not isinstance(metadata, str | bytes):
        frame = pd.DataFrame({"label": list(metadata)})
    else:
        raise InputError("Metadata must be a DataFrame, a mapping of column name -> values, or a list of labels.")
    if frame.shape[1] == 0:
        raise InputError("Metadata has no columns; pass None to export without metadata.")
    if len(frame) != n:
        raise InputError(f"Metadata has {len(frame)} rows for {n} vectors; give exactly one row per vector.")
    return frame


def _cell(value) -> str:
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):  # None, NaN (any float type), pd.NA, NaT
        return EMPTY
    text = _BREAKS.sub(" ", str(value))
    return text if js_trim(text) else EMPTY


def column_names(columns) -> list[str]:
    """Header cells the projector stores one by one: sanitised, unique ("a", "a (2)"), never "__proto__"."""
    names: list[str] = []
    for c in columns:
        base = _cell(c)
        base = f"{base} (column)" if base in UNSTORABLE_NAMES else base
        name, k = base, 2
        while name in names:
            name, k = f"{base} ({k})", k + 1
        names.append(name)
    return names


def _chunk_safe(lines: list[bytes]) -> bytes:
    """Join LF-terminated lines, adding blank lines before any line that would put a `CHUNK_BYTES` boundary inside
    a multi-byte UTF-8 character or right before a U+FEFF (the projector decodes each chunk on its own)."""
    out, size = [], 0
    for line in lines:
        pad = 0
        while True:
            start = size + pad
            cut = -start % CHUNK_BYTES  # the first chunk boundary at or after the line's start
            bad = False
            while cut < len(line):
                bad = (line[cut] & 0xC0) == 0x80 or line.startswith(b"\xef\xbb\xbf", cut)
                if bad:
                    break
                cut += CHUNK_BYTES
            if not bad:
                break
            pad += 1
        out += [b"\n" * pad, line]
        size += pad + len(line)
    return b"".join(out)


def write_metadata_tsv(path: str | Path, metadata, n: int) -> Path:
    """Write metadata for n vectors as projector TSV (header only with >1 column, sanitised cells, UTF-8, LF)."""
    frame, path = metadata_frame(metadata, n), Path(path)
    lines = ["\t".join(column_names(frame.columns))] if frame.shape[1] > 1 else []
    lines += ["\t".join(map(_cell, row)) for row in frame.itertuples(index=False, name=None)]
    path.write_bytes(_chunk_safe([(line + "\n").encode("utf-8") for line in lines]))
    return path


def _images_rgb(images) -> list[Image.Image] | np.ndarray:
    """Images -> (N, H, W, 3) uint8 array (from (N, C, H, W) in [0, 1]) or a list of RGB PIL images."""
    if isinstance(images, list | tuple) and images and isinstance(images[0], Image.Image):
        return [im.convert("RGB") for im in images]
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3, 4):
        raise InputError(f"Sprite images must be (N, C, H, W) with C in 1, 3, 4, or a list of PIL images; "
                         f"got shape {tuple(arr.shape)}.")
    if arr.dtype != np.uint8:
        arr = np.rint(np.clip(np.nan_to_num(arr.astype(np.float32)), 0.0, 1.0) * 255).astype(np.uint8)
    arr = arr[:, :3] if arr.shape[1] >= 3 else np.repeat(arr, 3, axis=1)  # RGBA drops alpha, grey -> RGB
    return arr.transpose(0, 2, 3, 1)  # (N, H, W, 3)


def sprite(images) -> tuple[Image.Image, tuple[int, int]]:
    """Tile N images into the projector's square sprite.

    Args:
        images: (N, C, H, W) float in [0, 1] (array or tensor; uint8 is taken as 0-255), or a list of PIL images
            (each fitted into the cell of the first image's size, aspect kept, centred on black).

    Returns:
        The RGB sprite of side * cell px (<= MAX_SPRITE_PX), and the cell size (w, h) = `singleImageDim`.
    """
    imgs = _images_rgb(images)
    n = len(imgs)
    if n == 0:
        raise InputError("No sprite images given; pass one image per vector or sprite_images=None.")
    side = math.ceil(math.sqrt(n))
    w, h = imgs[0].size if isinstance(imgs, list) else (imgs.shape[2], imgs.shape[1])
    scale = min(1.0, (MAX_SPRITE_PX // side) / w, (MAX_SPRITE_PX // side) / h)
    cw, ch = max(1, int(w * scale)), max(1, int(h * scale))
    if side * max(cw, ch) > MAX_SPRITE_PX:
        raise InputError(f"{n:,} images cannot fit a {MAX_SPRITE_PX} px sprite; export fewer points.")
    cells = np.zeros((side * side, ch, cw, 3), np.uint8)  # (side², ch, cw, 3), unused cells stay black
    if not isinstance(imgs, list) and (w, h) == (cw, ch):  # arrays that already fit: no per-image resize
        cells[:n] = imgs
        imgs = []
    for i in range(len(imgs)):
        im = imgs[i] if isinstance(imgs, list) else Image.fromarray(imgs[i])
        if im.size != (cw, ch):
            s = min(cw / im.size[0], ch / im.size[1])
            im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.Resampling.LANCZOS)
        x0, y0 = (cw - im.size[0]) // 2, (ch - im.size[1]) // 2
        cells[i, y0 : y0 + im.size[1], x0 : x0 + im.size[0]] = np.asarray(im)
    grid = cells.reshape(side, side, ch, cw, 3).transpose(0, 2, 1, 3, 4).reshape(side * ch, side * cw, 3)
    return Image.fromarray(grid), (cw, ch)


def bookmark_state(coords, shape: tuple[int, int], *, label: str, column: str | None = None,
                   selected=()) -> dict:
    """One projector `State` (data.ts) showing a precomputed 2-D/3-D map; see the module docstring.

    Args:
        selected: rows to select when the bookmark is applied (`selectedPoints`, sorted, unique).
    """
    coords = finite_vectors(coords)
    n, dims = coords.shape
    if dims not in (2, 3) or n != shape[0]:
        raise InputError(f"The projection must be (N, 2) or (N, 3) with N = {shape[0]}; got {tuple(coords.shape)}.")
    rows = np.unique(np.asarray(selected, dtype=np.int64).ravel())
    if rows.size and (rows[0] < 0 or rows[-1] >= n):
        raise InputError(f"The selection refers to rows outside 0..{n - 1}.")
    keys = [f"tsne-{j}" for j in range(dims)]
    decimals = 7 - int(np.floor(np.log10(max(float(np.abs(coords).max()), 1e-30))))  # 7 digits of the largest
    points = [dict(zip(keys, row)) for row in coords.astype(np.float64).round(decimals).tolist()]
    return {
        "label": label, "isSelected": False, "selectedProjection": "tsne", "dataSetDimensions": list(shape),
        "tSNEIteration": 1, "tSNEPerplexity": 30, "tSNELearningRate": 10, "tSNEis3d": dims == 3,
        "umapIs3d": dims == 3, "umapNeighbors": 15, "umapMinDist": 0.1, "pcaComponentDimensions": [0, 1, 2][:dims],
        "customSelectedSearchByMetadataOption": column, "customXLeftText": "", "customXLeftRegex": False,
        "customXRightText": "", "customXRightRegex": False, "customYUpText": "", "customYUpRegex": False,
        "customYDownText": "", "customYDownRegex": False, "projections": points, "filteredPoints": None,
        "selectedPoints": rows.tolist(), "cameraDef": None, "selectedColorOptionName": column,
        "forceCategoricalColoring": False, "selectedLabelOption": column,
    }


def _pbtxt(entry: dict) -> str:
    """The same embedding entry in protobuf text format (TensorBoard reads projector_config.pbtxt)."""
    name = json.dumps(entry["tensorName"], ensure_ascii=False)  # a quoted, escaped string literal
    lines = ["embeddings {", f"  tensor_name: {name}", f'  tensor_path: "{entry["tensorPath"]}"']
    if "metadataPath" in entry:
        lines.append(f'  metadata_path: "{entry["metadataPath"]}"')
    if "bookmarksPath" in entry:
        lines.append(f'  bookmarks_path: "{entry["bookmarksPath"]}"')
    if "sprite" in entry:
        w, h = entry["sprite"]["singleImageDim"]
        lines += ["  sprite {", f'    image_path: "{entry["sprite"]["imagePath"]}"',
                  f"    single_image_dim: {w}", f"    single_image_dim: {h}", "  }"]
    return "\n".join([*lines, "}"]) + "\n"


def tf_projector(out_dir: str | Path, vectors, metadata=None, *, sprite_images=None, projection=None,
                 tensor_name: str = "vizcore", selected=()) -> dict[str, Path]:
    """Write everything the TensorFlow Embedding Projector reads into `out_dir` (created if missing).

    Args:
        vectors: (N, D) embeddings.
        metadata: None, a DataFrame, a mapping column -> N values, or N labels (one column, "label").
        sprite_images: None, (N, C, H, W) images in [0, 1], or N PIL images.
        projection: None, an (N, 2|3) map, or a `vizcore.projection.Projection` (its method names the bookmark).
        tensor_name: the tensor's name in the projector's menu.
        selected: rows the bookmark selects (`selectedPoints`; needs `projection`).

    Returns:
        Written paths by role: "vectors", "config", "config_pbtxt", and "metadata", "sprite", "bookmarks"
        when written.
    """
    arr, out = finite_vectors(vectors), Path(out_dir)
    if arr.shape[1] < 2:
        raise InputError(f"The TensorFlow Projector needs at least 2 dimensions per vector; got {arr.shape[1]}.")
    out.mkdir(parents=True, exist_ok=True)
    n = arr.shape[0]
    paths = {"vectors": write_vectors_tsv(out / "vectors.tsv", arr)}
    entry: dict = {"tensorName": tensor_name, "tensorShape": list(arr.shape), "tensorPath": "vectors.tsv"}
    column = None  # the projector calls a header-less single column "label"
    if metadata is not None:
        frame = metadata_frame(metadata, n)
        column = column_names(frame.columns)[0] if frame.shape[1] > 1 else "label"
        paths["metadata"] = write_metadata_tsv(out / "metadata.tsv", frame, n)
        entry["metadataPath"] = "metadata.tsv"
    if sprite_images is not None:
        if len(sprite_images) != n:
            raise InputError(f"Got {len(sprite_images)} sprite images for {n} vectors; give one image per vector.")
        image, dim = sprite(sprite_images)
        image.save(out / "sprite.png")
        paths["sprite"] = out / "sprite.png"
        entry["sprite"] = {"imagePath": "sprite.png", "singleImageDim": list(dim)}
    if projection is not None:
        coords = getattr(projection, "coords", projection)
        method = getattr(projection, "method", "projection")
        label = f"vizcore {method.upper()} {np.shape(coords)[1]}-D ({n:,} points)"
        state = bookmark_state(coords, arr.shape, label=label, column=column, selected=selected)
        paths["bookmarks"] = out / "bookmarks.txt"
        paths["bookmarks"].write_text(json.dumps([state], separators=(",", ":")), encoding="utf-8")
        entry["bookmarksPath"] = "bookmarks.txt"
    paths["config"] = out / "projector_config.json"
    paths["config"].write_text(json.dumps({"embeddings": [entry]}, indent=2) + "\n", encoding="utf-8")
    paths["config_pbtxt"] = out / "projector_config.pbtxt"
    paths["config_pbtxt"].write_text(_pbtxt(entry), encoding="utf-8")
    return paths


def write_zip(vectors, metadata=None, *, sprite_images=None, projection=None, tensor_name: str = "vizcore",
              selected=()) -> bytes:
    """`tf_projector` into a temporary folder, returned as the bytes of a zip (files at the zip's root)."""
    with tempfile.TemporaryDirectory(prefix="vizcore-projector-") as tmp:
        paths = tf_projector(tmp, vectors, metadata, sprite_images=sprite_images, projection=projection,
                             tensor_name=tensor_name, selected=selected)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
            for path in paths.values():
                zf.write(path, arcname=path.name)
    return buf.getvalue()


def selection_bookmark(projection, shape: tuple[int, int], selected, *, metadata=None) -> bytes:
    """`bookmarks.txt` bytes: the map with `selected` rows selected, for vectors of `shape` [N, D] (load it in the
    projector's bookmark panel after the same vectors.tsv / metadata.tsv)."""
    coords = getattr(projection, "coords", projection)
    method = getattr(projection, "method", "projection")
    column = None
    if metadata is not None:
        frame = metadata_frame(metadata, shape[0])
        column = column_names(frame.columns)[0] if frame.shape[1] > 1 else "label"
    label = f"vizcore {method.upper()} selection ({len(np.unique(np.asarray(selected))):,} of {shape[0]:,} points)"
    state = bookmark_state(coords, shape, label=label, column=column, selected=selected)
    return json.dumps([state], separators=(",", ":")).encode("utf-8")


def coordinates_table(coords, metadata=None, ids=None) -> pd.DataFrame:
    """Coordinates + metadata as one table: columns id, x, y[, z], then the metadata columns.

    Metadata columns named like a coordinate column get a "meta_" prefix. Object columns that mix types are
    turned into strings (missing values stay missing) so the table always converts to Parquet.
    """
    xy = finite_vectors(coords)
    n, dims = xy.shape
    if dims not in (2, 3):
        raise InputError(f"Coordinates must be (N, 2) or (N, 3); got {tuple(xy.shape)}.")
    ids = list(range(n)) if ids is None else list(ids)
    if len(ids) != n:
        raise InputError(f"Got {len(ids)} ids for {n} points; give one id per point.")
    table = pd.DataFrame({"id": ids, **{"xyz"[j]: xy[:, j] for j in range(dims)}})
    if metadata is not None:
        meta = metadata_frame(metadata, n).copy()
        meta.columns = [f"meta_{c}" if str(c) in table.columns else str(c) for c in meta.columns]
        for c in meta.select_dtypes(include="object").columns:
            if meta[c].dropna().map(type).nunique() > 1:
                meta[c] = meta[c].map(lambda v: v if v is None or v is pd.NA else str(v))
        table = pd.concat([table, meta], axis=1)
    return table


def _rows(table: pd.DataFrame, rows) -> pd.DataFrame:
    """A selection of rows: None (all), a boolean mask or positions."""
    if rows is None:
        return table
    rows = np.asarray(rows)
    if rows.dtype == bool and len(rows) != len(table):
        raise InputError(f"The selection mask has {len(rows)} entries for {len(table)} rows.")
    if rows.dtype != bool and rows.size and (rows.min() < -len(table) or rows.max() >= len(table)):
        raise InputError(f"The selection refers to rows outside 0..{len(table) - 1}.")
    return table[rows] if rows.dtype == bool else table.iloc[rows.astype(np.int64)]


def to_csv(table: pd.DataFrame, rows=None) -> bytes:
    """The table (or the selected rows) as UTF-8 CSV bytes with a header, LF line endings."""
    return _rows(table, rows).to_csv(index=False, lineterminator="\n").encode("utf-8")


def to_parquet(table: pd.DataFrame, rows=None) -> bytes:
    """The table (or the selected rows) as Parquet bytes (needs pyarrow)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as err:
        raise InputError("Parquet export needs pyarrow: `pip install pyarrow`, or export CSV instead.") from err
    buf = io.BytesIO()
    _rows(table, rows).to_parquet(buf, index=False)
    return buf.getvalue()
