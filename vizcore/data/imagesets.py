"""User image sets: a zip upload or a folder of images, labelled by sub-folder or by a CSV, as a `Dataset`.

    result = from_zip(uploaded_file)      # ImageSet: .dataset (images (N, 3, 64, 64)), .skipped [(path, reason)]
    result = from_folder("photos/", csv="photos/labels.csv")
    print(result.summary())               # "Loaded 120 images in 3 classes; skipped 2: 2 not an image file."
    print(result.report())                # ... then "  skipped notes.txt: not an image file", one line per file

Archives are untrusted and read in memory by `vizcore.safezip` (limits on size, member count, expansion and
compression ratio; unsafe names, links, hidden files and `__MACOSX/` skipped). Then:
- images are recognised by extension (`IMAGE_EXTENSIONS`); other files, and images that do not decode or are
  over `max_pixels`, are skipped and reported in `ImageSet.skipped` with a `Reason`;
- labels come from a CSV at the top of the tree when there is one, else from the first sub-folder below the
  images' common folder (`cats/1.png` -> "cats"; images in no sub-folder get the common folder's name, or
  "unlabelled" at the archive root);
- the CSV: one row per image; the file column is the one named "file" / "filename" / "path" / "image" (else the
  first), matched by path inside the archive, path below the CSV's folder, or bare file name when unique; the
  label column is "label" / "class" / "category" (else the next); further columns become metadata (ints or
  floats when every value is a number). The first row is a header unless it names an image. Read as UTF-8
  (with or without BOM), else Windows-1252 (what Excel writes), else Latin-1; delimiter , ; or tab;
- every image is fitted into `image_size` keeping its aspect ratio, centred and padded with black.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image

from vizcore.data.dataset import Dataset
from vizcore.errors import ImageError, InputError
from vizcore.io import images as image_io
from vizcore.io.archives import (
    MAX_ARCHIVE_BYTES,
    MAX_MEMBERS,
    MAX_TOTAL_UNCOMPRESSED,
    Member,
    Reason,
    SkipError,
    Skipped,
    open_zip,
    read_path,
    walk_folder,
)
from vizcore.io.images import ImageTooLargeError, load_image

__all__ = ["IMAGE_EXTENSIONS", "MAX_IMAGES", "ImageSet", "Reason", "from_folder", "from_zip"]

MAX_IMAGES = 10_000  # images decoded into one data set (the app's limit; raise it from Python for more)
MAX_TENSOR_BYTES = 2**30  # the float32 image tensor, N * 3 * H * W * 4
MAX_CSV_BYTES = 20 * 2**20
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
UNLABELLED = "unlabelled"
_FILE_COLUMNS = ("file", "filename", "file_name", "path", "filepath", "image", "img", "name")
_LABEL_COLUMNS = ("label", "class", "category", "target", "y")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ImageSet:
    """Images loaded from a zip or a folder, and everything that was left out.

    Attributes:
        dataset: images (N, 3, H, W) in [0, 1], labels, label names (sorted), ids = paths inside the archive or
            folder, metadata = the CSV's extra columns. Named "upload:<zip name>" or "folder:<folder name>".
        skipped: (path, `Reason`) per file or CSV row left out, in the order they were met.
    """

    dataset: Dataset
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def skip_counts(self) -> dict[str, int]:
        """How many files were left out for each reason."""
        return dict(Counter(reason for _, reason in self.skipped))

    def summary(self) -> str:
        """One sentence for people: how many images and classes were loaded, how many files skipped and why."""
        d = self.dataset
        n, k = len(d), len(d.label_names)
        text = f"Loaded {n:,} image{'s' * (n != 1)} in {k} class{'es' * (k != 1)}"
        if not self.skipped:
            return text + "."
        counts = ", ".join(f"{n:,} {reason}" for reason, n in self.skip_counts.items())
        return f"{text}; skipped {len(self.skipped):,}: {counts}."

    def skipped_lines(self, limit: int | None = None) -> list[str]:
        """One line per file or CSV row left out, "path: reason", in the order met (the first `limit`, then how
        many more)."""
        shown = self.skipped if limit is None else self.skipped[:limit]
        lines = [f"{path}: {reason}" for path, reason in shown]
        if len(shown) < len(self.skipped):
            lines.append(f"... and {len(self.skipped) - len(shown):,} more")
        return lines

    def report(self, limit: int | None = None) -> str:
        """`summary()` and then every skipped file by name with its reason, one per line (for a terminal or a log)."""
        return "\n".join([self.summary()] + [f"  skipped {line}" for line in self.skipped_lines(limit)])


def from_zip(source: bytes | str | os.PathLike | IO[bytes], *, name: str | None = None,
             max_bytes: int = MAX_ARCHIVE_BYTES, max_members: int = MAX_MEMBERS,
             max_total_uncompressed: int = MAX_TOTAL_UNCOMPRESSED, max_images: int = MAX_IMAGES,
             max_pixels: int = image_io.MAX_PIXELS, image_size: tuple[int, int] = (64, 64),
             progress: Progress | None = None) -> ImageSet:
    """Load the images of an untrusted zip archive (rules and limits: this module's and `vizcore.safezip`'s).

    Args:
        source: the archive as bytes, a path, or a binary file object such as Streamlit's UploadedFile.
        name: shown in the data set's name "upload:<name>"; defaults to the file's name.
        max_bytes: largest archive accepted, in bytes.
        max_members: most entries in the archive's directory.
        max_total_uncompressed: most bytes read from the archive in total.
        max_images: most images decoded (`MAX_IMAGES` is the app's limit).
        max_pixels: largest image accepted, width * height.
        image_size: (H, W) every image is fitted into.
        progress: called as progress(done, total) after each image is decoded.

    Raises:
        InputError: not a zip, over a limit, no readable images, or a CSV that names none of them.
    """
    _check_args(image_size, max_images)
    with open_zip(source, (*IMAGE_EXTENSIONS, ".csv"), max_bytes=max_bytes, max_members=max_members,
                  max_total=max_total_uncompressed) as (zip_name, members, skipped):
        label = name or zip_name
        return _build(f"upload:{label}", members, None, skipped, image_size=image_size, max_images=max_images,
                      max_pixels=max_pixels, progress=progress, where=f"the archive '{label}'")


def from_folder(path: str | os.PathLike, *, csv: str | os.PathLike | None = None, max_members: int = 100_000,
                max_images: int = MAX_IMAGES, max_pixels: int = image_io.MAX_PIXELS,
                image_size: tuple[int, int] = (64, 64), progress: Progress | None = None) -> ImageSet:
    """Load the images under a local folder, with the rules of `from_zip` (symbolic links are not followed).

    Args:
        path: the folder; labels come from its sub-folders unless there is a CSV.
        csv: a labels CSV anywhere on disk (its paths relative to `path`); by default a single `*.csv` at the
            top of the folder is used.
        max_members: most files looked at; the other arguments as in `from_zip`.
    """
    _check_args(image_size, max_images)
    root = Path(path)
    if not root.is_dir():
        raise InputError(f"There is no folder at '{root}'. Check the path and try again.")
    members, skipped = walk_folder(root, (*IMAGE_EXTENSIONS, ".csv"), max_members=max_members)
    csv_member = None
    if csv is not None:
        csv_path = Path(csv)
        if not csv_path.is_file():
            raise InputError(f"There is no CSV file at '{csv_path}'. Check the path, or leave csv out.")
        csv_member = Member(csv_path.name, lambda limit: read_path(csv_path, limit))
    return _build(f"folder:{root.resolve().name}", members, csv_member, skipped, image_size=image_size,
                  max_images=max_images, max_pixels=max_pixels, progress=progress, where=f"the folder '{root}'")


# --- labels, decoding, the data set ---------------------------------------------------------------------------


def _build(name: str, files: list[Member], csv_file: Member | None, skipped: Skipped, *, image_size: tuple[int, int],
           max_images: int, max_pixels: int, progress: Progress | None, where: str) -> ImageSet:
    """Pick the labels (CSV or sub-folders), decode the images and assemble the `ImageSet`."""
    images = [f for f in files if f.path.lower().endswith(IMAGE_EXTENSIONS)]
    if not images:
        raise _no_images(where, skipped)
    csvs = [f for f in files if f.path.lower().endswith(".csv")]
    if csv_file is None:
        top = _common_dir([f.path for f in files])
        at_top = [f for f in csvs if _parent(f.path) == top]
        if len(at_top) > 1:
            names = ", ".join(f.path for f in at_top[:4])
            raise InputError(f"There are several CSV files at the top of {where} ({names}). Keep only the labels CSV.")
        csv_file = at_top[0] if at_top else None
    skipped += [(f.path, Reason.NOT_IMAGE) for f in csvs if f is not csv_file]
    rows, meta_names = _csv_labels(csv_file, images, skipped) if csv_file else (_folder_labels(images), [])
    _check_count(len(rows), max_images, image_size, where)
    tensor, kept = _decode_all([r[0] for r in rows], image_size, max_pixels, progress, skipped)
    if not kept:
        counts = ", ".join(f"{n} {r}" for r, n in Counter(r for _, r in skipped).items())
        raise InputError(f"None of the {len(rows):,} images in {where} could be read ({counts}). "
                         "Check that they open in an image viewer, or re-export them as PNG or JPEG.")
    label_names = tuple(sorted({rows[i][1] for i in kept}))
    index = {n: k for k, n in enumerate(label_names)}
    labels = np.array([index[rows[i][1]] for i in kept], dtype=np.int64)
    metadata = {m: _typed([rows[i][2][j] for i in kept]) for j, m in enumerate(meta_names)}
    dataset = Dataset(name, tensor, labels, label_names, tuple(rows[i][0].path for i in kept), metadata)
    return ImageSet(dataset, tuple(skipped))


def _folder_labels(images: list[Member]) -> list[tuple[Member, str, list[str]]]:
    """Label = the first folder below the images' common folder; images directly in it get its name."""
    dirs = [f.path.split("/")[:-1] for f in images]
    common = os.path.commonprefix(dirs)  # element-wise on lists: the shared leading folders
    fallback = common[-1] if common else UNLABELLED
    return [(f, d[len(common)] if len(d) > len(common) else fallback, []) for f, d in zip(images, dirs)]


def _csv_labels(csv_file: Member, images: list[Member], skipped: Skipped) -> tuple[list, list[str]]:
    """(image, label, metadata values) for each image the CSV lists, and the metadata column names."""
    lookup = _image_index(images, _parent(csv_file.path))
    rows = _csv_rows(csv_file)
    named = _norm(rows[0][0]) not in lookup  # the first row is a header unless it names an image
    width = max(len(r) for r in rows)
    header = ([h.strip() for h in rows[0]] if named else ["file", "label"]) + [""] * width
    header = header[:width]
    if width < 2:
        raise InputError(f"The CSV '{csv_file.path}' has one column. Give two: the image file name and its label.")
    if named and len(rows) == 1:
        raise InputError(f"The CSV '{csv_file.path}' has a header but no rows. Add one row per image.")
    file_col, label_col, meta_cols = _columns(header)
    matched: dict[str, tuple[str, list[str]]] = {}
    unmatched: list[str] = []
    for row in rows[1:] if named else rows:
        row = row + [""] * (width - len(row))
        f = lookup.get(_norm(row[file_col]))
        if f is None:
            unmatched.append(row[file_col])
        elif f.path in matched:
            skipped.append((row[file_col], Reason.CSV_ROW_DUPLICATE))
        else:
            matched[f.path] = (row[label_col].strip() or UNLABELLED, [row[i] for i in meta_cols])
    if not matched:
        examples = ", ".join(repr(u) for u in unmatched[:3])
        raise InputError(f"None of the {len(unmatched):,} file names in '{csv_file.path}' match an image "
                         f"(e.g. {examples}). Put each image's file name or path in column "
                         f"'{header[file_col] or 1}', e.g. {images[0].path!r}.")
    skipped += [(u, Reason.CSV_ROW_UNMATCHED) for u in unmatched]
    skipped += [(f.path, Reason.NOT_IN_CSV) for f in images if f.path not in matched]
    names = [header[i] or f"column {i + 1}" for i in meta_cols]
    return [(f, *matched[f.path]) for f in images if f.path in matched], names


def _columns(header: list[str]) -> tuple[int, int, list[int]]:
    """Indices of the file column, the label column and the metadata columns, by header name or position."""
    lower = [h.lower() for h in header]
    file_col = next((i for i, h in enumerate(lower) if h in _FILE_COLUMNS), 0)
    label_col = next((i for i, h in enumerate(lower) if h in _LABEL_COLUMNS and i != file_col),
                     1 if file_col == 0 else 0)
    return file_col, label_col, [i for i in range(len(header)) if i not in (file_col, label_col)]


def _csv_rows(csv_file: Member) -> list[list[str]]:
    """The CSV's non-blank rows, decoded as UTF-16 (with its BOM), UTF-8, else Windows-1252, else Latin-1,
    delimiter sniffed."""
    try:
        raw = csv_file.read(MAX_CSV_BYTES)
    except SkipError as exc:
        raise InputError(f"The CSV '{csv_file.path}' could not be read ({exc.reason}; the limit is "
                         f"{MAX_CSV_BYTES // 2**20} MB). Save it again, smaller, and retry.") from exc
    encodings = ("utf-16",) if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig", "cp1252")  # Excel
    for encoding in encodings:
        with contextlib.suppress(UnicodeDecodeError):
            text = raw.decode(encoding)
            break
    else:
        text = raw.decode("latin-1")  # every byte is a Latin-1 character: never fails
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = [r for r in csv.reader(io.StringIO(text, newline=""), dialect) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise InputError(f"The CSV '{csv_file.path}' could not be parsed ({exc}). Save it again as plain CSV.") from exc
    if not rows:
        raise InputError(f"The CSV '{csv_file.path}' is empty. Give one row per image: file name, label.")
    return rows


def _image_index(images: list[Member], base: str) -> dict[str, Member]:
    """Names a CSV may use for each image: its path, its path below `base`, and its file name when unique."""
    names = Counter(f.path.rsplit("/", 1)[-1] for f in images)
    index: dict[str, Member] = {}
    for f in images:
        name = f.path.rsplit("/", 1)[-1]
        if names[name] == 1:
            index.setdefault(name, f)
    for f in images:
        if base and f.path.startswith(base + "/"):
            index[f.path[len(base) + 1:]] = f
        index[f.path] = f
    return index


def _norm(name: str) -> str:
    return "/".join(p for p in name.strip().replace("\\", "/").split("/") if p not in ("", "."))


def _typed(values: list[str]) -> tuple:
    """A metadata column as ints, else floats (blank = NaN), else the strings as given."""
    stripped = [v.strip() for v in values]
    if any(stripped):
        with contextlib.suppress(ValueError):
            return tuple(int(v) for v in stripped)
        with contextlib.suppress(ValueError):
            return tuple(float(v) if v else float("nan") for v in stripped)
    return tuple(values)


def _decode_all(files: list[Member], image_size: tuple[int, int], max_pixels: int, progress: Progress | None,
                skipped: Skipped) -> tuple[torch.Tensor, list[int]]:
    """Decode and fit every image: (K, 3, H, W) for the K that decoded, and their indices into `files`."""
    H, W = image_size
    out = torch.empty((len(files), 3, H, W))
    kept: list[int] = []
    for i, f in enumerate(files):
        try:
            img = load_image(f.read(image_io.MAX_BYTES), max_pixels=max_pixels)
        except SkipError as exc:
            skipped.append((f.path, exc.reason))
        except ImageTooLargeError:
            skipped.append((f.path, Reason.TOO_MANY_PIXELS))
        except ImageError:
            skipped.append((f.path, Reason.UNREADABLE))
        else:
            out[len(kept)] = fit_image(img, H, W)
            kept.append(i)
        if progress is not None:
            progress(i + 1, len(files))
    images = out[:len(kept)]
    return (images.clone() if len(kept) < len(files) // 2 else images), kept


def fit_image(img: Image.Image, H: int = 64, W: int = 64) -> torch.Tensor:
    """Resize to fit inside (H, W) keeping the aspect ratio, centre on black: (3, H, W) float32 in [0, 1].

    How every image of an image set is brought to one size (in memory here, streamed by `vizcore embed`)."""
    scale = min(W / img.width, H / img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    canvas = Image.new("RGB", (W, H))
    canvas.paste(img.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=3.0), ((W - w) // 2, (H - h) // 2))
    return torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0).permute(2, 0, 1)  # (3, H, W)


# --- checks and messages --------------------------------------------------------------------------------------


def _check_args(image_size: tuple[int, int], max_images: int) -> None:
    ok = (isinstance(image_size, (tuple, list)) and len(image_size) == 2
          and all(isinstance(s, int) and 8 <= s <= 1024 for s in image_size))
    if not ok:
        raise InputError(f"image_size must be (height, width) in pixels, 8..1024 each; got {image_size!r}.")
    if isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1:
        raise InputError(f"max_images must be a positive integer, got {max_images!r}.")


def _check_count(n: int, max_images: int, image_size: tuple[int, int], where: str) -> None:
    if n > max_images:
        raise InputError(f"There are {n:,} images in {where}, more than the {max_images:,} loaded at once here. "
                         "Use a sample, load the whole set from Python: from_folder(path, max_images=...), switch on "
                         "'Large zip' in the app, or run `vizcore embed` and open the folder it writes.")
    if n * 3 * image_size[0] * image_size[1] * 4 > MAX_TENSOR_BYTES:
        raise InputError(f"{n:,} images at {image_size[0]} x {image_size[1]} px need more than "
                         f"{MAX_TENSOR_BYTES // 2**20:,} MB. Choose a smaller image_size or fewer images.")


def _common_dir(paths: list[str]) -> str:
    return "/".join(os.path.commonprefix([p.split("/")[:-1] for p in paths]))


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _no_images(where: str, skipped: Skipped) -> InputError:
    reasons = collections.Counter(r for _, r in skipped)
    why = "; ".join(f"{n:,} {r}" for r, n in reasons.most_common(3))
    found = (f" It has {len(skipped):,} other files, all skipped ({why}; e.g. "
             f"{', '.join(n for n, _ in skipped[:3])}).") if skipped else ""
    return InputError(f"There are no images (PNG, JPEG, WebP, BMP, GIF or TIFF files) in {where}.{found} Add the "
                      "images, in one sub-folder per label (or with a labels CSV), and try again.")
