"""Vectors a user already has: `.npy`, Parquet (a file or a folder of shards), the TF Projector TSV pair, CSV.

    v = load("embeddings.npy", metadata="labels.csv")   # Vectors: X (N, D) float32, metadata DataFrame, ...
    v = load("run/")                                     # `vizcore embed` shards (+ map.parquet from `vizcore project`)
    v = load("vectors.tsv", metadata="metadata.tsv")     # read with the projector's own rules (`tfprojector`)

Formats:
- `.npy`: one (N, D) array of numbers (never pickled objects); metadata from an optional CSV with a header and
  one row per vector.
- Parquet: one list / fixed-size-list column of numbers is the vector (named by `vector_column`, else the one
  such column, else one named "vector" / "embedding" / "features"); every other column is metadata. An image is
  found in a column named like `IMAGE_PATH_COLUMNS` (paths) or `IMAGE_BYTES_COLUMNS` (encoded thumbnails).
  A folder: every `*.parquet` in it, in name order (by the "row" column when there is one, as `vizcore embed`
  writes), except `map.parquet`, which holds the x, y(, z) map written by `vizcore project` (joined on "id").
- TSV: `vectors.tsv` (+ `metadata.tsv`) exactly as the TensorFlow Projector reads them.
- CSV: a header; the columns whose every value is a number are the vector, the others (and columns named like
  a label, id or path) metadata.

Limits (each refused with an `InputError` that states it): at most `MAX_POINTS` rows, `MAX_DIM` dimensions,
`MAX_VALUES` numbers in all (2 GiB as float32), `MAX_TEXT_BYTES` of TSV / CSV text; at least 2 dimensions;
every value finite after conversion to float32; every row the same length; metadata with one row per vector.

May import: `vizcore.errors` and `vizcore.io`.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from vizcore.errors import InputError
from vizcore.io import tfprojector

MAX_POINTS = 1_000_000
MAX_DIM = 16_384
MAX_VALUES = 2**29          # 512 M numbers = 2 GiB of float32 (1M x 512, 100k x 5,120)
MAX_TEXT_BYTES = 4 * 2**30  # TSV / CSV files
MAP_FILE = "map.parquet"
VECTOR_COLUMNS = ("vector", "vectors", "embedding", "embeddings", "features", "feature")
IMAGE_PATH_COLUMNS = ("image_path", "path", "file", "filename", "image_file")
IMAGE_BYTES_COLUMNS = ("thumbnail", "thumb", "image_bytes", "image", "png", "jpeg")
LABEL_COLUMNS = ("label", "class", "category", "target", "y_true")
META_NAMES = LABEL_COLUMNS + IMAGE_PATH_COLUMNS + ("id", "name", "split")


@dataclass(frozen=True, eq=False)
class Vectors:
    """Vectors with their metadata.

    Attributes:
        X: (N, D) float32, finite, read-only.
        metadata: N rows (may have no columns).
        source: what was read, for messages ("embeddings.npy", "3 Parquet shards in run/").
        image_column: a metadata column holding each row's image (see `image_kind`), or None.
        image_kind: "path" (a file path, relative to `root` unless absolute) or "bytes" (an encoded image).
        root: the folder relative image paths start from.
        coords: (N, 2|3) float64 map stored with the vectors (`map.parquet`), or None.
    """

    X: np.ndarray
    metadata: pd.DataFrame
    source: str
    image_column: str | None = None
    image_kind: str | None = None
    root: str = "."
    coords: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.X)


def load(path: str | os.PathLike, *, metadata: str | os.PathLike | None = None,
         vector_column: str | None = None) -> Vectors:
    """Read vectors from a file or folder, picking the reader by extension (see the module docstring)."""
    p = Path(path).expanduser()
    if p.is_dir():
        return read_parquet(p, vector_column=vector_column)
    if not p.is_file():
        raise InputError(f"There is no file or folder at '{p}'. Check the path.")
    ext = p.suffix.lower()
    if ext == ".npy":
        return read_npy(p, metadata)
    if ext in (".parquet", ".pq"):
        return read_parquet(p, vector_column=vector_column)
    if ext in (".tsv", ".tab"):
        return read_tsv(p, metadata)
    if ext == ".csv":
        return read_csv(p)
    raise InputError(f"'{p.name}' is not a vectors file vizcore reads: use .npy, .parquet, .tsv (TensorFlow "
                     "Projector) or .csv, or a folder of Parquet shards.")


def load_files(paths: list[Path]) -> Vectors:
    """One vectors file, or a .npy / vectors.tsv with its metadata file (a .csv / .tsv, named like metadata)."""
    def is_meta(p: Path) -> bool:
        others = [o for o in paths if o != p]
        beside_npy = p.suffix.lower() in (".csv", ".tsv") and any(o.suffix.lower() == ".npy" for o in others)
        return bool(others) and (beside_npy or (p.suffix.lower() == ".tsv" and "meta" in p.name.lower()))

    main = [p for p in paths if not is_meta(p)]
    meta = [p for p in paths if is_meta(p)]
    if len(main) != 1 or len(meta) > 1:
        raise InputError(f"Give one vectors file, optionally with one metadata file; got "
                         f"{', '.join(p.name for p in paths)}. Pair metadata.tsv with vectors.tsv, or a .csv with a "
                         ".npy.")
    return load(main[0], metadata=meta[0] if meta else None)


def load_uploads(files: tuple[tuple[str, bytes], ...]) -> Vectors:
    """`load_files` for uploaded (name, bytes) pairs, written to a temporary folder first."""
    with tempfile.TemporaryDirectory(prefix="vizcore-vectors-") as tmp:
        paths = [Path(tmp) / Path(name).name for name, _ in files]
        for path, (_, blob) in zip(paths, files):
            path.write_bytes(blob)
        return load_files(paths)


def stamp(path: str | os.PathLike) -> tuple:
    """What changes when the file or folder at `path` changes: names, sizes and modification times (shallow)."""
    p = Path(path).expanduser()
    entries = [p] + (sorted(p.iterdir()) if p.is_dir() else [])
    return tuple((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries if e.exists())


def check_matrix(X, what: str) -> np.ndarray:
    """Any (N, D) numbers -> finite float32 (N, D), within the limits; the errors name `what`."""
    arr = np.asarray(X)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise InputError(f"{what} holds {arr.dtype} values, not numbers. Save an (N, D) array of floats.")
    if arr.ndim != 2:
        raise InputError(f"{what} has shape {arr.shape}; vectors must be (N points, D dimensions).")
    n, d = arr.shape
    _check_size(n, d, what)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        raise InputError(f"{what}: {len(rows):,} row(s) hold NaN or infinite values (or numbers beyond float32), "
                         f"e.g. row {rows[0]}. Drop or fix them and load again.")
    out.flags.writeable = False
    return out


def _check_size(n: int, d: int, what: str) -> None:
    if d < 2:
        raise InputError(f"{what} has {d} dimension(s) per vector; a map needs at least 2.")
    if n < 1:
        raise InputError(f"{what} holds no vectors.")
    if n > MAX_POINTS:
        raise InputError(f"{what} holds {n:,} vectors; the limit is {MAX_POINTS:,}. Load a sample.")
    if d > MAX_DIM:
        raise InputError(f"{what} has {d:,} dimensions; the limit is {MAX_DIM:,}. Reduce them first (e.g. PCA).")
    if n * d > MAX_VALUES:
        raise InputError(f"{what} holds {n:,} x {d:,} = {n * d:,} numbers; the limit is {MAX_VALUES:,} (2 GiB as "
                         "float32). Load fewer rows or reduce the dimensions.")


def _metadata_rows(meta: pd.DataFrame, n: int, what: str) -> pd.DataFrame:
    if len(meta) != n:
        raise InputError(f"{what} has {len(meta):,} rows for {n:,} vectors; give exactly one row per vector "
                         "(in the same order).")
    return meta.reset_index(drop=True)


# ---- .npy ----------------------------------------------------------------------------------------------------------

def read_npy(path: str | os.PathLike, metadata: str | os.PathLike | None = None) -> Vectors:
    """An (N, D) `.npy` (memory-mapped while checked; object arrays refused) and an optional metadata CSV."""
    p = Path(path)
    try:
        arr = np.load(p, mmap_mode="r", allow_pickle=False)
    except ValueError as err:  # object arrays need pickle
        raise InputError(f"'{p.name}' holds Python objects, not numbers; save a float array with np.save.") from err
    except (OSError, EOFError) as err:
        raise InputError(f"'{p.name}' is not a readable .npy file ({err}). Save it with numpy.save.") from err
    X = check_matrix(arr, f"'{p.name}'")
    meta = pd.DataFrame(index=range(len(X)))
    if metadata is not None:
        meta = _metadata_rows(_read_table(Path(metadata)), len(X), f"The metadata '{Path(metadata).name}'")
    return _with_images(Vectors(X, meta, p.name, root=str(p.parent)))


# ---- Parquet -------------------------------------------------------------------------------------------------------

def read_parquet(path: str | os.PathLike, *, vector_column: str | None = None) -> Vectors:
    """A Parquet file, or every `*.parquet` shard of a folder (name order) plus its `map.parquet` coordinates."""
    pq = _pyarrow_parquet()
    p = Path(path)
    files = sorted(f for f in p.glob("*.parquet") if f.name != MAP_FILE) if p.is_dir() else [p]
    if not files:
        raise InputError(f"The folder '{p}' holds no .parquet files. Run `vizcore embed` into it first.")
    what = f"'{p.name}'" if len(files) == 1 else f"{len(files)} Parquet shards in '{p}'"
    try:
        schema = pq.read_schema(files[0])
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(f"{what} could not be read as Parquet ({err}).") from err
    if rows > MAX_POINTS:
        raise InputError(f"{what} holds {rows:,} rows; the limit is {MAX_POINTS:,}. Load fewer shards.")
    column = _vector_column(schema, vector_column, what)
    import pyarrow as pa

    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")
    if "row" in table.column_names:  # `vizcore embed` shards: the source's order, whichever engine wrote them
        table = table.sort_by("row")
    X = check_matrix(_list_column_to_matrix(table.column(column).combine_chunks(), what), what)
    meta = table.drop_columns([column]).to_pandas()
    root = p if p.is_dir() else p.parent
    vectors = _with_images(Vectors(X, _metadata_rows(meta, len(X), what), what, root=str(root)))
    if p.is_dir() and (p / MAP_FILE).is_file():
        vectors = _attach_map(vectors, p / MAP_FILE)
    return vectors


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as err:
        raise InputError("Reading Parquet needs pyarrow: `pip install pyarrow`.") from err
    return pq


def _vector_column(schema, wanted: str | None, what: str) -> str:
    import pyarrow as pa

    lists = [f.name for f in schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)
             or pa.types.is_fixed_size_list(f.type)]
    if wanted is not None:
        if wanted not in schema.names:
            raise InputError(f"{what} has no column {wanted!r}; its columns: {', '.join(schema.names)}.")
        return wanted
    named = [c for c in lists if c.lower() in VECTOR_COLUMNS]
    if len(lists) == 1 or named:
        return (named or lists)[0]
    raise InputError(f"{what} needs one list column of numbers holding each row's vector (found "
                     f"{len(lists)}: {', '.join(lists) or 'none'}). Name it 'vector' or pass vector_column=.")


def _list_column_to_matrix(col, what: str) -> np.ndarray:
    """A pyarrow (fixed-size) list array -> (N, D) without a Python loop; ragged rows and nulls refused."""
    import pyarrow as pa

    if col.null_count:
        raise InputError(f"{what}: {col.null_count:,} row(s) have no vector (null). Drop them and load again.")
    if pa.types.is_fixed_size_list(col.type):
        d = col.type.list_size
        return col.flatten().to_numpy(zero_copy_only=False).reshape(len(col), d)
    offsets = np.asarray(col.offsets)
    lengths = np.diff(offsets)
    if len(lengths) and (lengths != lengths[0]).any():
        bad = int(np.flatnonzero(lengths != lengths[0])[0])
        raise InputError(f"{what}: vectors have different lengths (row 0 has {lengths[0]}, row {bad} has "
                         f"{lengths[bad]}); every vector needs the same number of values.")
    d = int(lengths[0]) if len(lengths) else 0
    _check_size(len(col), d, what)
    values = col.flatten()
    if values.null_count:
        raise InputError(f"{what}: {values.null_count:,} vector value(s) are null; fill or drop them.")
    return values.to_numpy(zero_copy_only=False).reshape(len(col), d)


def _attach_map(vectors: Vectors, path: Path) -> Vectors:
    """Coordinates from `map.parquet` (columns id?, x, y[, z]); rows matched on "id" when both have it."""
    m = _pyarrow_parquet().read_table(path).to_pandas()
    axes = [a for a in ("x", "y", "z") if a in m.columns]
    if len(axes) < 2 or len(m) != len(vectors):
        raise InputError(f"'{path}' has {len(m):,} rows and columns {list(m.columns)[:8]}; a map needs x, y (and "
                         f"optionally z) for each of the {len(vectors):,} vectors. Rerun `vizcore project`.")
    if "id" in m.columns and "id" in vectors.metadata.columns:
        order = pd.Index(m["id"]).get_indexer(vectors.metadata["id"])
        if (order < 0).any():
            raise InputError(f"'{path}' does not cover every id of the vectors; rerun `vizcore project`.")
        m = m.iloc[order]
    coords = np.ascontiguousarray(m[axes].to_numpy(np.float64))  # float64: a map far from 0 keeps its spread
    bad = int((~np.isfinite(coords).all(axis=1)).sum())
    if bad:
        raise InputError(f"'{path}' has {bad:,} rows whose coordinates are not finite (NaN or infinite). Rerun "
                         "`vizcore project`, or move map.parquet away to open the vectors without it.")
    return Vectors(vectors.X, vectors.metadata, vectors.source, vectors.image_column, vectors.image_kind,
                   vectors.root, coords)


def _with_images(v: Vectors) -> Vectors:
    """Find an image column: encoded bytes (thumbnails) first, else file paths."""
    cols = {str(c).lower(): c for c in v.metadata.columns}
    for name in IMAGE_BYTES_COLUMNS:
        c = cols.get(name)
        if c is not None and len(v) and isinstance(v.metadata[c].iloc[0], (bytes, bytearray)):
            return Vectors(v.X, v.metadata, v.source, c, "bytes", v.root, v.coords)
    for name in IMAGE_PATH_COLUMNS:
        c = cols.get(name)
        if c is not None and len(v) and isinstance(v.metadata[c].iloc[0], str):
            return Vectors(v.X, v.metadata, v.source, c, "path", v.root, v.coords)
    return v


# ---- TSV (TensorFlow Projector) and CSV ----------------------------------------------------------------------------

def _read_bytes(path: Path) -> bytes:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise InputError(f"'{path.name}' is {size / 2**30:.1f} GiB; text files are read up to "
                         f"{MAX_TEXT_BYTES // 2**30} GiB. Save the vectors as .npy or Parquet instead.")
    return path.read_bytes()


def read_tsv(path: str | os.PathLike, metadata: str | os.PathLike | None = None) -> Vectors:
    """`vectors.tsv` (+ `metadata.tsv`) read with the TensorFlow Projector's rules (`vizcore.io.tfprojector`).

    Labels in a first column of the vectors file become a "label" column unless a metadata file is given.
    """
    p = Path(path)
    X, labels = parse_vectors_tsv(_read_bytes(p), f"'{p.name}'")
    meta = pd.DataFrame(index=range(len(X)))
    if labels is not None:
        meta["label"] = labels
    if metadata is not None:
        m = Path(metadata)
        columns, rows = tfprojector.parse_metadata(_read_bytes(m))
        names = [c for c in dict.fromkeys(columns) if c not in tfprojector.UNSTORABLE_NAMES]
        meta = _metadata_rows(pd.DataFrame(rows, columns=names), len(X), f"The metadata '{m.name}'")
    return _with_images(Vectors(X, meta, p.name, root=str(p.parent)))


_NUMERIC_BYTES = bytes(range(256)).translate(None, b"0123456789.eE+-\t\n")  # bytes outside plain number rows


def parse_vectors_tsv(content: bytes, what: str = "The vectors file") -> tuple[np.ndarray, list[str] | None]:
    """Projector-exact parsing, with a fast path (pyarrow's CSV reader) for plain numeric tab-separated rows."""
    fast = (content.translate(None, b"0123456789.eE+-\t\n") == b"" and b"\t\t" not in content
            and b"\n\t" not in content and b"\t\n" not in content and not content.startswith(b"\t")
            and content.endswith(b"\n"))
    if fast:
        X = _fast_tsv(content)
        if X is not None:
            return check_matrix(X, what), None
    X, labels = tfprojector.parse_tensors(content)
    return check_matrix(X, what), labels


def _fast_tsv(content: bytes) -> np.ndarray | None:
    """Plain numeric TSV -> (N, D) float32 through pyarrow (multi-threaded); None when anything is unusual."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pcsv
    except ImportError:
        return None
    try:
        table = pcsv.read_csv(pa.py_buffer(content), read_options=pcsv.ReadOptions(autogenerate_column_names=True),
                              parse_options=pcsv.ParseOptions(delimiter="\t"),
                              convert_options=pcsv.ConvertOptions(column_types=None))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # ragged rows, a label column, ...: the exact parser explains
    if any(not pa.types.is_floating(t) and not pa.types.is_integer(t) for t in table.schema.types):
        return None
    if table.num_rows and any(c.null_count for c in table.columns):
        return None
    with np.errstate(over="ignore"):  # beyond float32 -> inf, refused by `check_matrix`
        return np.column_stack([c.to_numpy().astype(np.float32) for c in table.columns])


def _read_table(path: Path) -> pd.DataFrame:
    """A metadata CSV / TSV with a header, every value kept as text except all-number columns."""
    if not path.is_file():
        raise InputError(f"There is no metadata file at '{path}'.")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        return pd.read_csv(io.BytesIO(_read_bytes(path)), sep=sep, encoding="utf-8-sig", keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputError(f"The metadata '{path.name}' could not be read as a table with a header ({err}).") from err


def read_csv(path: str | os.PathLike) -> Vectors:
    """A CSV with a header: all-number columns (other than label / id / path names) are the vector."""
    p = Path(path)
    table = _read_table(p)
    numeric = [c for c in table.columns if str(c).lower() not in META_NAMES
               and pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c])]
    if len(numeric) < 2:
        raise InputError(f"'{p.name}' has {len(numeric)} all-number column(s); a vector needs at least 2. Rows "
                         "with a missing or non-numeric value make a column text: fix them, or use .npy / Parquet.")
    X = check_matrix(table[numeric].to_numpy(), f"'{p.name}'")
    meta = table.drop(columns=numeric).reset_index(drop=True)
    return _with_images(Vectors(X, meta, p.name, root=str(p.parent)))
