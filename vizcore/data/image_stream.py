"""Large image sets listed without decoding them: a folder, a zip, a text file of paths, or a Parquet table.

`vizcore embed` and the app's large uploads read images one batch at a time from here, so memory stays bounded
whatever the number of images (`imagesets` decodes a whole set into one tensor and is for up to 10,000).

    with open_images("photos/") as listing:            # Listing: name, items (ImageItem), skipped
        for item in listing.items[:4]:
            image = item.load()                          # RGB PIL image, through `vizcore.load_image` (safe)

Items are in a stable order (sorted paths; a Parquet table's row order), so row i is the same image on every
run, which is what makes `vizcore embed` resumable. Labels: the first folder below the images' common folder
(as in `imagesets`), a Parquet "label" column, else "unlabelled". Every source is untrusted: zip limits and
image limits are those of `vizcore.io` (raised for zips given on the command line: `CLI_ZIP_LIMITS`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from vizcore.errors import InputError
from vizcore.io import images as image_io
from vizcore.io.archives import Member, Reason, SkipError, Skipped, open_zip, read_path, walk_folder

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_STREAM_IMAGES = 10_000_000
CLI_ZIP_LIMITS = {"max_bytes": 256 * 2**30, "max_members": 10_000_000, "max_total": 1024 * 2**30}
UNLABELLED = "unlabelled"
PATH_COLUMNS = ("path", "image_path", "file", "filename")
BYTES_COLUMNS = ("image", "image_bytes", "bytes", "thumbnail", "png", "jpeg")


@dataclass(frozen=True)
class ImageItem:
    """One image of a listing.

    Attributes:
        id: its path inside the source (or the Parquet "id" / row number).
        label: sub-folder or "label" column; "unlabelled" when there is none.
        path: an absolute file path when the image is a file on disk (else None: zip members, bytes columns).
        read: read(limit) -> the encoded bytes (raises `SkipError` when larger than limit or unreadable).
    """

    id: str
    label: str
    path: str | None
    read: Callable[[int], bytes]

    def load(self) -> Image.Image:
        """The decoded RGB image (limits of `vizcore.io.images`)."""
        return image_io.load_image(self.read(image_io.MAX_BYTES))


@dataclass(frozen=True)
class Listing:
    name: str
    items: list[ImageItem]
    skipped: Skipped


@contextlib.contextmanager
def open_images(source: str | os.PathLike | list, *, max_images: int = MAX_STREAM_IMAGES,
                zip_limits: dict | None = None) -> Iterator[Listing]:
    """List the images of `source` (folder, .zip, .txt / .lst of paths, .parquet, or a Python list of paths).

    Items of a zip can only be read inside the `with` block.
    """
    if isinstance(source, (list, tuple)):
        yield _checked(_from_paths([Path(p) for p in source], Path.cwd(), "the list of paths"), max_images)
        return
    p = Path(source)
    if p.is_dir():
        members, skipped = walk_folder(p, IMAGE_EXTENSIONS, max_members=max_images * 2 + 1000)
        items = _labelled([(m, str((p / m.path).resolve())) for m in members])
        yield _checked(Listing(p.resolve().name, items, skipped), max_images)
    elif p.suffix.lower() == ".zip":
        with open_zip(p, IMAGE_EXTENSIONS, **(zip_limits or CLI_ZIP_LIMITS)) as (name, members, skipped):
            yield _checked(Listing(name, _labelled([(m, None) for m in members]), skipped), max_images)
    elif p.suffix.lower() in (".txt", ".lst"):
        lines = [ln.strip() for ln in p.read_text(encoding="utf-8-sig").splitlines()]
        paths = [Path(ln) if Path(ln).is_absolute() else p.parent / ln for ln in lines if ln and ln[0] != "#"]
        yield _checked(_from_paths(paths, p.parent, f"the list '{p.name}'"), max_images)
    elif p.suffix.lower() in (".parquet", ".pq"):
        yield _checked(_from_parquet(p), max_images)
    elif not p.exists():
        raise InputError(f"There is no folder or file at '{p}'. Check the path.")
    else:
        raise InputError(f"'{p.name}' is not an image source: give a folder, a .zip, a .txt file with one image "
                         "path per line, or a .parquet table with a path or image-bytes column.")


def count_images(source: str | os.PathLike) -> int:
    """How many images `source` lists (nothing decoded)."""
    with open_images(source) as listing:
        return len(listing.items)


def _checked(listing: Listing, max_images: int) -> Listing:
    if not listing.items:
        why = f" ({len(listing.skipped):,} files skipped, e.g. {listing.skipped[0][0]}: {listing.skipped[0][1]})" \
            if listing.skipped else ""
        raise InputError(f"There are no images (PNG, JPEG, WebP, BMP, GIF or TIFF) in {listing.name}{why}.")
    if len(listing.items) > max_images:
        raise InputError(f"{listing.name} holds {len(listing.items):,} images, more than the {max_images:,} "
                         "allowed here. Split the set, or raise the limit.")
    return listing


def _labelled(members: list[tuple[Member, str | None]]) -> list[ImageItem]:
    """Label = the first folder below the common folder of all images (as `imagesets` does)."""
    dirs = [m.path.split("/")[:-1] for m, _ in members]
    common = os.path.commonprefix(dirs)
    fallback = common[-1] if common else UNLABELLED
    return [ImageItem(m.path, d[len(common)] if len(d) > len(common) else fallback, path, m.read)
            for (m, path), d in zip(members, dirs)]


def _from_paths(paths: list[Path], base: Path, name: str) -> Listing:
    members, skipped = [], []
    for path in paths:
        if not path.is_file():
            skipped.append((str(path), Reason.UNREADABLE))
        elif not path.name.lower().endswith(IMAGE_EXTENSIONS):
            skipped.append((str(path), Reason.NOT_IMAGE))
        else:
            rel = os.path.relpath(path, base).replace(os.sep, "/")
            members.append((Member(rel, lambda limit, f=path: read_path(f, limit)), str(path.resolve())))
    return Listing(name, _labelled(members), skipped)


def _from_parquet(p: Path) -> Listing:
    try:
        import pyarrow.parquet as pq

        table = pq.read_table(p).to_pandas()
    except ImportError as err:
        raise InputError("Reading Parquet needs pyarrow: `pip install pyarrow`.") from err
    except Exception as err:  # pyarrow raises several types for a file that is not Parquet
        raise InputError(f"'{p.name}' could not be read as Parquet ({err}).") from err
    cols = {str(c).lower(): c for c in table.columns}
    path_col = next((cols[c] for c in PATH_COLUMNS if c in cols), None)
    bytes_col = next((cols[c] for c in BYTES_COLUMNS if c in cols), None)
    if path_col is None and bytes_col is None:
        raise InputError(f"'{p.name}' has no image column: name one '{PATH_COLUMNS[0]}' (file paths) or "
                         f"'{BYTES_COLUMNS[0]}' (encoded image bytes). Its columns: "
                         f"{', '.join(map(str, table.columns))}.")
    ids = table[cols["id"]].astype(str) if "id" in cols else [str(i) for i in range(len(table))]
    labels = table[cols["label"]].astype(str) if "label" in cols else [UNLABELLED] * len(table)
    items = []
    for i, (id_, label) in enumerate(zip(ids, labels)):
        if bytes_col is not None:
            data = table[bytes_col].iloc[i]
            items.append(ImageItem(id_, label, None, lambda limit, b=data: _bounded(b, limit)))
        else:
            f = Path(table[path_col].iloc[i])
            f = f if f.is_absolute() else p.parent / f
            items.append(ImageItem(id_, label, str(f.resolve()), lambda limit, f=f: read_path(f, limit)))
    return Listing(p.name, items, [])


def _bounded(data: bytes, limit: int) -> bytes:
    if data is None or len(data) > limit:
        raise SkipError(Reason.TOO_LARGE if data is not None else Reason.UNREADABLE)
    return bytes(data)
