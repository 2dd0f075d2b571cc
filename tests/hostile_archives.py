"""Hostile images, zip archives and folders with labels CSVs for the hostile corpus (`tests.hostile_corpus`).

Everything is generated: images from `tests.hostile_images`, archives written byte by byte."""

from __future__ import annotations

import io
import struct
import sys
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from tests import hostile_images as hi
from tests.hostile_cases import ERROR, FROM_FOLDER, FROM_ZIP, LOAD_IMAGE, OK, Case, MiB, write_file

# --- images: load_image ---------------------------------------------------------------------------------------

_EXTENSIONS = {"jpeg": ".jpg", "gif": ".gif", "tiff": ".tif", "webp": ".webp", "bmp": ".bmp"}


def _image_name(name: str) -> str:
    """A file name with the extension a user would give it (`text` and `ppm` cases are renamed to .png)."""
    ext = next((e for key, e in _EXTENSIONS.items() if key in name), ".png")
    return f"{name}{ext}"


def bilevel_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of zeros, deflated row by row: a real decompression bomb (KBs on disk, MPs decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    return hi.PNG_SIGNATURE + hi.png_chunk(b"IHDR", ihdr) + hi.png_chunk(b"IDAT", idat) + hi.png_chunk(b"IEND", b"")


def image_cases(d: Path) -> list[Case]:
    cases = []
    for name, raw in hi.HOSTILE.items():
        path = write_file(d / _image_name(name), raw)
        limit = hi.HOSTILE_MAX_PIXELS.get(name)
        error = "ImageTooLargeError" if "huge" in name or "over" in name or "bomb" in name else "ImageError"
        cases.append(Case(f"image_{name}", LOAD_IMAGE, str(path), ERROR, (path,), error,
                          {"max_pixels": limit} if limit else {}, app=limit is None, note=f"{len(raw):,} B"))
    for name, raw in hi.VALID.items():
        path = write_file(d / _image_name(name), raw)
        cases.append(Case(f"image_{name}", LOAD_IMAGE, str(path), OK, (path,),
                          expected={"size": hi.EXPECTED_SIZE[name]}, note=f"{len(raw):,} B"))
    extra = {  # name: (bytes, expect, note)
        "png_ztxt_bomb": (_with_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(20 * MiB), 9)), ERROR,
                          "a text chunk inflating to 20 MiB"),
        "png_iccp_bomb": (_with_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(20 * MiB), 9)), ERROR,
                          "a colour profile inflating to 20 MiB"),
        "gif_500_frames": (_many_frames_gif(500), OK, "500 frames of noise: only the first is decoded"),
        "jpeg_garbage_exif": (_jpeg_with_app1(b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08" + b"\xff" * 64), OK,
                              "an EXIF block of junk: the pixels are fine"),
    }
    for name, (raw, expect, note) in extra.items():
        path = write_file(d / _image_name(name), raw)
        cases.append(Case(f"image_{name}", LOAD_IMAGE, str(path), expect, (path,), "ImageError",
                          expected={"size": hi.SIZE} if expect == OK else {}, note=note))
    bomb = write_file(d / "bomb_64mp_bilevel.png", bilevel_png(8000, 8000))
    cases.append(Case("image_bomb_64mp_bilevel", LOAD_IMAGE, str(bomb), ERROR, (bomb,), "ImageTooLargeError",
                      note=f"valid 8000x8000 PNG in {bomb.stat().st_size:,} B (under Pillow's own limit)"))
    big = write_file(d / "max_36mp_bilevel.png", bilevel_png(6000, 6000))
    cases.append(Case("image_max_36mp_bilevel", LOAD_IMAGE, str(big), OK, (big,), expected={"size": (6000, 6000)},
                      rss_mb=400, app=False,  # 13 s in the app: see test_hostile's xfail on prepare()
                      note="6000x6000: just under the 40 MP limit, 108 MB as RGB"))
    return cases


def _with_chunk(kind: bytes, data: bytes) -> bytes:
    """The gradient PNG with one extra ancillary chunk right after IHDR."""
    base = hi.VALID["png"]
    at = len(hi.PNG_SIGNATURE) + 25  # signature + IHDR chunk (4 + 4 + 13 + 4)
    return base[:at] + hi.png_chunk(kind, data) + base[at:]


def _many_frames_gif(n: int) -> bytes:
    rng = np.random.default_rng(0)
    frames = [Image.fromarray(rng.integers(0, 256, (hi.SIZE[1], hi.SIZE[0], 3), dtype=np.uint8)) for _ in range(n)]
    return hi.encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=20)


def _jpeg_with_app1(segment: bytes) -> bytes:
    """The gradient JPEG with an APP1 segment inserted after SOI."""
    base = hi.VALID["jpeg"]
    return base[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + base[2:]


# --- zip archives: from_zip -----------------------------------------------------------------------------------


def deflated_zeros(n_bytes: int) -> tuple[bytes, int]:
    """A raw DEFLATE stream of `n_bytes` zeros (compressed in 1 MiB steps) and its CRC-32."""
    z, crc, chunk = zlib.compressobj(9, zlib.DEFLATED, -15), 0, bytes(MiB)
    parts = []
    for start in range(0, n_bytes, MiB):
        piece = chunk[: min(MiB, n_bytes - start)]
        parts.append(z.compress(piece))
        crc = zlib.crc32(piece, crc)
    return b"".join(parts) + z.flush(), crc


def raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of (name, DEFLATE payload, crc, declared size) written by hand: one payload may back many members."""
    out, central = io.BytesIO(), []
    for name, payload, crc, size in members:
        offset, n = out.tell(), name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(payload), size, len(n), 0))
        out.write(n + payload)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(payload), size,
                                   len(n), 0, 0, 0, 0, 0, offset) + n)
    cd = b"".join(central)
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(cd), out.tell(), 0)
    return out.getvalue() + cd + eocd


def make_zip(entries: Mapping[str, bytes] | list[tuple[str, bytes]], stored: bool = False) -> bytes:
    """A zip holding `entries`, names written verbatim (even `../x` or `/abs/x`)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, payload in (entries.items() if isinstance(entries, Mapping) else entries):
            zf.writestr(zipfile.ZipInfo(name), payload, compress_type=method)
    return buf.getvalue()


def png(colour: tuple[int, int, int] = hi.RED, size: tuple[int, int] = (8, 6)) -> bytes:
    return hi.encode(Image.new("RGB", size, colour), "PNG")


def zip_cases(d: Path) -> list[Case]:
    from vizcore.io.archives import Reason

    good = png()
    colours = (hi.RED, hi.GREEN, hi.BLUE)
    three = {f"good{i}.png": png(c) for i, c in enumerate(colours)}  # the projector needs 3 points
    big = 48 * MiB  # under data.MAX_BYTES (50 MB), so the ratio check (not the size check) must catch it
    bomb, bomb_crc = deflated_zeros(big)
    floor, floor_crc = deflated_zeros(MiB)  # exactly the size below which the ratio is not checked
    specs: list[tuple[str, bytes, str, dict, str]] = [
        # name, archive, expect, expected (ok) or {"error": class}, note
        ("bomb_zeros", raw_zip([(f"img_{i:02d}.png", bomb, bomb_crc, big) for i in range(40)]), ERROR,
         {"error": "InputError"}, "40 members x 48 MiB of zeros: 1.9 GiB from ~2 MB"),
        ("bomb_beside_images", raw_zip([("bomb.png", bomb, bomb_crc, big)]
                                       + [(f"ok{i}.png", *_deflate(png(c))) for i, c in enumerate(colours)]), OK,
         {"images": 3, "skipped": {Reason.BOMB: 1}}, "the bomb is skipped unread"),
        ("bomb_lying_sizes", raw_zip([(f"liar_{i}.png", bomb, bomb_crc, 1000) for i in range(8)]), ERROR,
         {"error": "InputError"}, "headers declare 1,000 B, streams hold 48 MiB"),
        ("bomb_under_ratio_floor", raw_zip([(f"z/{i:04d}.png", floor, floor_crc, MiB) for i in range(1900)]), ERROR,
         {"error": "InputError"}, "1,900 x 1 MiB of zeros (each under the ratio check's 1 MiB floor)"),
        ("traversal_only", make_zip([("../evil.png", good), ("/etc/evil.png", good), ("..\\win.png", good),
                                     ("C:/x/evil.png", good)]), ERROR, {"error": "InputError"},
         "only ../, absolute and drive-letter names"),
        ("traversal_beside_images", make_zip([("../../evil.png", good), ("/abs/evil.png", good), ("cats/a.png", good),
                                              ("cats/c.png", png(hi.BLUE)), ("dogs/b.png", png(hi.GREEN))]), OK,
         {"images": 3, "skipped": {Reason.UNSAFE_PATH: 2}, "labels": ("cats", "dogs")}, "unsafe names skipped"),
        ("no_images", make_zip({"readme.txt": b"hello", "data.json": b"{}", "notes/a.md": b"# a"}), ERROR,
         {"error": "InputError"}, "text files only"),
        ("empty_archive", make_zip({}), ERROR, {"error": "InputError"}, "a valid zip with no members"),
        ("all_images_corrupt", make_zip({"a.png": hi.HOSTILE["truncated_png"], "b.jpg": b"not a jpeg",
                                         "c.png": hi.HOSTILE["huge_header_png"]}), ERROR,
         {"error": "InputError"}, "every image unreadable or a bomb header"),
        ("corrupt_beside_good", make_zip({**three, "bad.png": hi.HOSTILE["corrupt_png"]}), OK,
         {"images": 3, "skipped": {Reason.UNREADABLE: 1}}, "the bad image is skipped"),
        ("ten_thousand_tiny_images", make_zip({f"c{i % 3}/{i:05d}.png": png(size=(2, 2)) for i in range(10_000)},
                                              stored=True), OK, {"images": 10_000, "labels": ("c0", "c1", "c2")},
         "10,000 2x2 PNGs: exactly MAX_IMAGES"),
        ("ten_thousand_tiny_non_images", make_zip({f"{i:05d}.txt": b"x" for i in range(10_000)}, stored=True),
         ERROR, {"error": "InputError"}, "10,000 one-byte text files"),
        ("over_max_images", make_zip({f"{i:05d}.png": png(size=(2, 2)) for i in range(10_001)}, stored=True),
         ERROR, {"error": "InputError"}, "10,001 images: refused before decoding"),
        ("over_max_members", make_zip({f"{i:05d}.txt": b"" for i in range(20_001)}, stored=True), ERROR,
         {"error": "InputError"}, "20,001 members: refused from the directory record"),
        ("nested_zip", make_zip({"inner.zip": make_zip({"a.png": good}), **three}), OK,
         {"images": 3, "skipped": {Reason.NOT_IMAGE: 1}}, "archives inside are not opened"),
        ("csv_labels_do_not_match", make_zip({"a.png": good, "b.png": good,
                                              "labels.csv": b"file,label\nx.png,cat\ny.png,dog\n"}), ERROR,
         {"error": "InputError"}, "the CSV names no file in the archive"),
        ("png_renamed_zip", good, ERROR, {"error": "InputError"}, "not a zip"),
        ("truncated_zip", make_zip({"a.png": good, "b.png": good})[:100], ERROR, {"error": "InputError"},
         "cut after 100 bytes"),
        ("empty_file", b"", ERROR, {"error": "InputError"}, "0 bytes"),
    ]
    cases = []
    for name, raw, expect, info, note in specs:
        path = write_file(d / f"{name}.zip", raw)
        error = info.pop("error", "VizcoreError")
        budget = {"ten_thousand_tiny_images": {"rss_mb": 800, "seconds": 15.0},  # a legal 491 MB tensor
                  "bomb_under_ratio_floor": {"seconds": 15.0}}.get(name, {})  # see test_hostile's xfail
        cases.append(Case(f"zip_{name}", FROM_ZIP, str(path), expect, (path,), error, expected=info,
                          note=f"{note}; {len(raw):,} B", **budget))
    return cases


def _deflate(data: bytes) -> tuple[bytes, int, int]:
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush(), zlib.crc32(data), len(data)


# --- folders with a labels CSV: from_folder -------------------------------------------------------------------


_NUL_OUTCOME = (OK, {"images": 2}) if sys.version_info >= (3, 11) else (ERROR, "InputError")


def folder_cases(d: Path) -> list[Case]:
    from vizcore.io.archives import Reason

    csvs = {  # name: (CSV bytes, expect, expected / error, note)
        "csv_labels_do_not_match": (b"file,label\nx.png,cat\ny.png,dog\nz.png,cat\n", ERROR, "InputError",
                                    "no row names an image"),
        "csv_partly_matches": (b"file,label\na.png,cat\nmissing.png,dog\n", OK,
                               {"images": 1, "skipped": {Reason.CSV_ROW_UNMATCHED: 1, Reason.NOT_IN_CSV: 1}},
                               "one row matches, one names a missing file"),
        "csv_cp1252": ("file;label\na.png;café\nb.png;crème brûlée €\n".encode("cp1252"), OK,
                       {"images": 2, "labels": ("café", "crème brûlée €")}, "Windows-1252, as Excel writes"),
        "csv_latin1": ("file,label\na.png,Müller\nb.png,Ørsted\n".encode("latin-1"), OK,
                       {"images": 2, "labels": ("Müller", "Ørsted")}, "ISO-8859-1"),
        "csv_utf16": ("file\tlabel\na.png\tchat\nb.png\tchien\n".encode("utf-16"), OK,
                      {"images": 2, "labels": ("chat", "chien")}, "UTF-16 with BOM, as Excel's 'Unicode text'"),
        "csv_binary": (png(), ERROR, "InputError", "a PNG renamed .csv"),
        "csv_empty": (b"", ERROR, "InputError", "0 bytes"),
        "csv_one_column": (b"file\na.png\nb.png\n", ERROR, "InputError", "no label column"),
        "csv_nul_bytes": (b"file,label\na.png,c\x00at\nb.png,dog\n", *_NUL_OUTCOME,
                          "NUL inside a field (csv reads it from Python 3.11 on)"),
        "csv_giant_field": (b"file,label\na.png," + b"x" * 200_000 + b"\n", ERROR, "InputError",
                            "one 200 kB field, over the csv module's limit"),
    }
    cases = []
    for name, (raw, expect, info, note) in csvs.items():
        root = d / name
        images = [write_file(root / "images" / f, png()) for f in ("a.png", "b.png")]
        csv = write_file(root / "labels.csv", raw)
        expected, error = (info, "VizcoreError") if expect == OK else ({}, info)
        cases.append(Case(f"folder_{name}", FROM_FOLDER, str(root / "images"), expect, (*images, csv), error,
                          csv=csv, expected=expected, note=note))
    return cases
