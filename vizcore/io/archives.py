"""Read untrusted zip archives (and local folders) in memory, one bounded member at a time.

Nothing is extracted to disk, and every limit is checked before the step it guards:
- the archive's size (`max_bytes`), then its member count and directory size, read from the end-of-central-
  directory record *before* Python's zipfile parses (and allocates) the directory (`max_members`);
- per member, the declared size (`vizcore.image_io.MAX_BYTES`) and the compression ratio: above `MAX_RATIO` for a
  member over `RATIO_FLOOR` bytes is a zip bomb's signature, and such members are skipped unread;
- the total declared size of the members to be read (`max_total`); each read asks zlib for at most the
  declared size plus one byte, so a header that under-declares a size cannot expand past it (the member is
  then skipped as damaged: its length or CRC does not match).
Names are never resolved: absolute names, drive letters and `..` are skipped (backslashes count as separators);
so are symbolic links, encrypted members, `__MACOSX/` and hidden files or folders (".name"). Each skipped file
is reported as (name, `Reason`).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from vizcore.errors import InputError
from vizcore.io import images as image_io

MAX_ARCHIVE_BYTES = 200 * 2**20  # Streamlit's default upload limit
MAX_MEMBERS = 20_000  # entries in the archive's directory (files, folders, junk)
MAX_TOTAL_UNCOMPRESSED = 2 * 2**30  # bytes read from one archive, summed over members
MAX_RATIO = 100  # uncompressed / compressed; images ~1, BMP/TIFF up to tens, zeros ~1000 (DEFLATE's maximum)
RATIO_FLOOR = 2**20  # the ratio is only checked above 1 MiB, so small flat images are never refused
ARCHIVE_RATIO_FLOOR = 64 * 2**20  # ... and for the whole archive above 64 MiB (many small bombs)
_MAX_ENTRY_BYTES = 1024  # a generous average size of one directory entry (46 bytes + name + extra fields)
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, ValueError)
_EOCD, _ZIP64_LOCATOR, _ZIP64_EOCD = b"PK\x05\x06", b"PK\x06\x07", b"PK\x06\x06"

Skipped = list[tuple[str, str]]  # (name, reason)


class Reason:
    """Why a file (or CSV row) was left out: the reasons reported next to each skipped name."""

    UNSAFE_PATH = "unsafe path (absolute or outside the archive)"
    SYMLINK = "symbolic link"
    ENCRYPTED = "encrypted"
    MACOS = "macOS metadata (__MACOSX)"
    HIDDEN = "hidden file"
    DUPLICATE = "duplicate name"
    NOT_IMAGE = "not an image file"
    TOO_LARGE = "file too large"
    BOMB = "suspicious compression ratio (possible zip bomb)"
    DAMAGED = "damaged archive member"
    UNREADABLE = "unreadable image"
    TOO_MANY_PIXELS = "too many pixels"
    NOT_IN_CSV = "not listed in the CSV"
    CSV_ROW_UNMATCHED = "listed in the CSV but not found"
    CSV_ROW_DUPLICATE = "listed twice in the CSV"


@dataclass(frozen=True)
class Member:
    """A file worth reading: its clean '/'-separated relative path and a reader of at most `limit` bytes.

    `read(limit)` raises `SkipError` (too large, damaged) or, for an archive that expands past its total
    budget, `InputError`.
    """

    path: str
    read: Callable[[int], bytes]


class SkipError(Exception):
    """A file is left out for `reason` (caught by the caller and reported, never shown as an error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@contextlib.contextmanager
def open_zip(source: bytes | str | os.PathLike | IO[bytes], suffixes: tuple[str, ...], *,
             max_bytes: int = MAX_ARCHIVE_BYTES, max_members: int = MAX_MEMBERS,
             max_total: int = MAX_TOTAL_UNCOMPRESSED) -> Iterator[tuple[str, list[Member], Skipped]]:
    """Open an untrusted zip and yield (display name, members with one of `suffixes`, skipped files).

    Members can only be read inside the `with` block. Raises `InputError` for anything that is not a zip or is
    over a limit.
    """
    with _open_source(source, max_bytes) as (fp, name):
        _check_directory(fp, max_members, name)
        try:
            zf = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise not_a_zip(name) from exc
        with zf:
            if len(zf.infolist()) > max_members:
                raise too_many_members(name, len(zf.infolist()), max_members)
            yield name, *_zip_members(zf, suffixes, max_total, name)


def walk_folder(root: Path, suffixes: tuple[str, ...], *, max_members: int) -> tuple[list[Member], Skipped]:
    """Files under `root` with one of `suffixes` (not following symbolic links), and the skipped files."""
    members: list[Member] = []
    skipped: Skipped = []
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        for d in list(dirnames):  # pruned in place: os.walk then does not descend into them
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            reason = Reason.SYMLINK if os.path.islink(os.path.join(dirpath, d)) else _path_reason(rel)
            if reason:
                dirnames.remove(d)
                skipped.append((rel, reason))
        dirnames.sort()
        for f in sorted(filenames):
            count += 1
            if count > max_members:
                raise too_many_members(str(root), count, max_members)
            full, rel = Path(dirpath) / f, f if rel_dir == "." else f"{rel_dir}/{f}"
            reason = Reason.SYMLINK if full.is_symlink() else _path_reason(rel)
            if reason is None and not f.lower().endswith(suffixes):
                reason = Reason.NOT_IMAGE
            if reason:
                skipped.append((rel, reason))
            else:
                members.append(Member(rel, lambda limit, full=full: read_path(full, limit)))
    return members, skipped


def read_path(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a local file; `SkipError` when it is larger or unreadable."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end; a folder is no image
            raise SkipError(Reason.UNREADABLE)
        if st.st_size > limit:  # before reading: f.read(limit + 1) would reserve `limit` bytes up front
            raise SkipError(Reason.TOO_LARGE)
        with open(path, "rb") as f:
            raw = f.read(path.stat().st_size + 1)
    except OSError as exc:
        raise SkipError(Reason.UNREADABLE) from exc
    if len(raw) > limit:
        raise SkipError(Reason.TOO_LARGE)
    return raw


@contextlib.contextmanager
def _open_source(source: object, max_bytes: int) -> Iterator[tuple[IO[bytes], str]]:
    """Yield a seekable binary file over the archive and its display name, after the byte-size check."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
        _check_bytes(len(raw), max_bytes, "archive.zip")
        yield io.BytesIO(raw), "archive.zip"
    elif isinstance(source, (str, os.PathLike)):
        p = Path(source)
        if not p.is_file():
            raise InputError(f"There is no zip file at '{p}'. Check the path and try again.")
        _check_bytes(p.stat().st_size, max_bytes, p.name)
        with open(p, "rb") as f:
            yield f, p.name
    elif callable(getattr(source, "read", None)):
        name = Path(str(getattr(source, "name", "") or "upload.zip")).name
        if _seekable(source):
            source.seek(0, os.SEEK_END)
            _check_bytes(source.tell(), max_bytes, name)
            source.seek(0)
            yield source, name
        else:
            raw = source.read(max_bytes + 1)
            _check_bytes(len(raw), max_bytes, name)
            yield io.BytesIO(raw), name
    else:
        raise InputError(f"Got a {type(source).__name__} for a zip archive. Pass bytes, a path or a file object.")


def _seekable(f: object) -> bool:
    try:
        return bool(f.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _check_bytes(n: int, max_bytes: int, name: str) -> None:
    if n == 0:
        raise InputError(f"'{name}' is empty (0 bytes). Zip the images again and upload the new file.")
    if n > max_bytes:
        raise InputError(f"'{name}' is {n / 2**20:,.0f} MB, above the {max_bytes / 2**20:,.0f} MB limit. Upload "
                         "a smaller sample, or load the folder from Python with `vizcore.imagesets.from_folder`.")


def _check_directory(fp: IO[bytes], max_members: int, name: str) -> None:
    """Refuse archives whose directory declares too many entries, before zipfile parses it."""
    fp.seek(0, os.SEEK_END)
    fp.seek(max(0, fp.tell() - (22 + 65535 + 20)))  # EOCD record + longest comment + zip64 locator
    tail = fp.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) < at + 22:
        raise not_a_zip(name)
    entries, cd_size = struct.unpack("<HI", tail[at + 10:at + 16])
    if at >= 20 and tail[at - 20:at - 16] == _ZIP64_LOCATOR:  # zip64: the real counts are in the zip64 record
        fp.seek(struct.unpack("<Q", tail[at - 12:at - 4])[0])
        record = fp.read(56)
        if record[:4] == _ZIP64_EOCD:
            entries, cd_size = struct.unpack("<QQ", record[32:48])
    if entries > max_members or cd_size > max_members * _MAX_ENTRY_BYTES:
        raise too_many_members(name, entries, max_members)


def _zip_members(zf: zipfile.ZipFile, suffixes: tuple[str, ...], max_total: int,
                 name: str) -> tuple[list[Member], Skipped]:
    """The members worth reading, each with a bounded reader; the rest as (name, reason)."""
    budget = [max_total]  # bytes that may still be read from the whole archive, shared by the readers
    over = f"The archive '{name}' expands to more than {max_total / 2**20:,.0f} MB"
    members: list[Member] = []
    skipped: Skipped = []
    seen: set[str] = set()
    declared = compressed = 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        path = safe_path(info.filename)
        reason = _member_reason(info, path, seen, suffixes)
        if reason:
            skipped.append((info.filename, reason))
            continue
        seen.add(path)
        declared += info.file_size
        compressed += info.compress_size
        members.append(Member(path, _zip_reader(zf, info, budget, over)))
    if declared > max_total:
        raise InputError(f"{over} ({declared / 2**20:,.0f} MB). Upload a smaller sample of the images.")
    if declared > ARCHIVE_RATIO_FLOOR and declared > MAX_RATIO * max(compressed, 1):  # many small bombs
        raise InputError(f"The archive '{name}' expands {declared / max(compressed, 1):,.0f} times "
                         f"({compressed / 2**20:,.1f} MB to {declared / 2**20:,.0f} MB), a zip bomb's signature; "
                         "images compress far less. Upload the images themselves, zipped normally.")
    return members, skipped


def _member_reason(info: zipfile.ZipInfo, path: str | None, seen: set, suffixes: tuple[str, ...]) -> str | None:
    """Why a zip member is skipped without reading it, or None."""
    reason = _path_reason(path) if path else Reason.UNSAFE_PATH
    if reason:
        return reason
    if stat.S_ISLNK(info.external_attr >> 16):
        return Reason.SYMLINK
    if info.flag_bits & 0x1:
        return Reason.ENCRYPTED
    if path in seen:
        return Reason.DUPLICATE
    if not path.lower().endswith(suffixes):
        return Reason.NOT_IMAGE
    if info.file_size > image_io.MAX_BYTES:
        return Reason.TOO_LARGE
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return Reason.BOMB
    return None


def _zip_reader(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int], over: str) -> Callable:
    """A reader of one member that never decompresses more than its declared size (+1 byte to catch liars)."""

    def read(limit: int) -> bytes:
        if info.file_size > limit:
            raise SkipError(Reason.TOO_LARGE)
        if info.file_size > budget[0]:
            raise InputError(f"{over}. Upload a smaller sample of the images.")
        try:
            with zf.open(info) as f:
                raw = f.read(info.file_size + 1)  # zlib is asked for this much at most, whatever the stream holds
        except _ZIP_ERRORS as exc:  # including the CRC check failing for a stream longer than declared
            raise SkipError(Reason.DAMAGED) from exc
        if len(raw) != info.file_size:
            raise SkipError(Reason.DAMAGED)
        budget[0] -= len(raw)
        return raw

    return read


def safe_path(name: str) -> str | None:
    """`name` as a clean relative path with '/' separators, or None when absolute or escaping the archive."""
    name = name.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return None if not parts or ".." in parts else "/".join(parts)


def _path_reason(path: str) -> str | None:
    parts = path.split("/")
    if parts[0] == "__MACOSX":
        return Reason.MACOS
    return Reason.HIDDEN if any(p.startswith(".") for p in parts) else None


def not_a_zip(name: str) -> InputError:
    return InputError(f"'{name}' is not a zip archive, or it is damaged. Zip the folder of images (one sub-folder "
                      "per label) and upload the .zip file.")


def too_many_members(name: str, n: int, max_members: int) -> InputError:
    held = f"holds {n:,} files" if n > max_members else "has a file list too long"
    return InputError(f"'{name}' {held}, more than the {max_members:,} vizcore reads. Upload a smaller sample, "
                      "or split it into several archives.")
