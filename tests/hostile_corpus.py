"""A corpus of hostile and broken inputs for every vizcore entry point that reads untrusted data (issue 7).

Every file is generated here (no binary fixtures): images from `tests.hostile_images`, zip bombs and hostile
archives written byte by byte, folders with mismatched or non-UTF-8 CSVs, checkpoints whose pickle would run code,
truncated and wrong-architecture weights, and bad model specs. Each `Case` names the entry point that consumes it
and whether it must load ("ok") or raise a `VizcoreError` ("error").

    cases = build(tmp_path)                         # writes the files, returns list[Case]
    result = consume(cases[0])                      # calls the case's entry point
    python -m tests.hostile_corpus OUT_DIR [--run]  # writes everything and prints a table (--run: with results)
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import sys
import time
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from tests import hostile_images as hi

OK, ERROR = "ok", "error"
LOAD_IMAGE = "vizcore.load_image"
FROM_ZIP = "vizcore.imagesets.from_zip"
FROM_FOLDER = "vizcore.imagesets.from_folder"
LOAD_MODEL = "vizcore.load_model"
ARCH = "test_vit"  # timm's smallest ViT (0.4 M params): `file:...?arch=` builds it before reading the file
REAL_ARCH = "vit_tiny_patch16_224"  # a real architecture, for the wrong-architecture case
# Checkpoint cases the app tests also run (the others take the same code path: library only, to save time).
APP_CHECKPOINTS = {"bundled_copy_with_card", "pth_with_arch", "pickle_runs_code", "torch_save_runs_code",
                   "pickle_runs_code_no_arch", "pickle_runs_code_with_card", "truncated_safetensors_card",
                   "wrong_arch_timm", "wrong_arch_card", "card_heads_do_not_divide", "missing_file"}
MiB = 2**20


@dataclass(frozen=True)
class Case:
    """One hostile (or merely unusual) input and what vizcore must do with it.

    Attributes:
        name: unique, used as the test id.
        entry: the entry point that consumes it (`LOAD_IMAGE`, `FROM_ZIP`, `FROM_FOLDER`, `LOAD_MODEL`).
        arg: what the entry point is called with: a file or folder path, or a model spec string.
        expect: `OK` (loads) or `ERROR` (raises `error`, a `VizcoreError` subclass given by name).
        files: every file written for the case.
        error: name of the expected `vizcore.errors` class.
        kwargs: extra keyword arguments for the entry point (e.g. a small `max_pixels`).
        csv: the labels CSV handed to `from_folder(csv=...)`.
        marker: a file that must never exist afterwards (a pickle would create it if it ran code).
        expected: what an "ok" case yields: "size" (w, h) of an image; "images", "skipped" ({reason: count}),
            "labels" of an image set; "kind" of a model.
        seconds: time budget; rss_mb: budget for the growth of the process's peak resident memory.
        app: whether the AppTests feed it to the app (library-only cases rely on a keyword argument).
        note: what the case is, for the table.
    """

    name: str
    entry: str
    arg: str
    expect: str
    files: tuple[Path, ...] = ()
    error: str = "VizcoreError"
    kwargs: Mapping[str, object] = field(default_factory=dict)
    csv: Path | None = None
    marker: Path | None = None
    expected: Mapping[str, object] = field(default_factory=dict)
    seconds: float = 5.0
    rss_mb: int = 200
    app: bool = True
    note: str = ""


def consume(case: Case) -> object:
    """Call the case's entry point on its input (the library path; the app tests feed the same files)."""
    import vizcore as vc
    from vizcore.data.imagesets import from_folder, from_zip

    if case.entry == LOAD_IMAGE:
        return vc.load_image(Path(case.arg), **case.kwargs)
    if case.entry == FROM_ZIP:
        return from_zip(Path(case.arg), **case.kwargs)
    if case.entry == FROM_FOLDER:
        return from_folder(case.arg, csv=case.csv, **case.kwargs)
    if case.entry == LOAD_MODEL:
        return vc.load_model(case.arg, **case.kwargs)
    raise ValueError(f"unknown entry point {case.entry}")


def build(out_dir: str | Path) -> list[Case]:
    """Write every case below `out_dir` (created; markers from earlier runs removed) and return the cases."""
    out = Path(out_dir)
    for sub in ("images", "zips", "folders", "checkpoints"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    cases = _image_cases(out / "images") + _zip_cases(out / "zips") + _folder_cases(out / "folders")
    cases += _checkpoint_cases(out / "checkpoints") + _spec_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


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


def _image_cases(d: Path) -> list[Case]:
    cases = []
    for name, raw in hi.HOSTILE.items():
        path = _write(d / _image_name(name), raw)
        limit = hi.HOSTILE_MAX_PIXELS.get(name)
        error = "ImageTooLargeError" if "huge" in name or "over" in name or "bomb" in name else "ImageError"
        cases.append(Case(f"image_{name}", LOAD_IMAGE, str(path), ERROR, (path,), error,
                          {"max_pixels": limit} if limit else {}, app=limit is None, note=f"{len(raw):,} B"))
    for name, raw in hi.VALID.items():
        path = _write(d / _image_name(name), raw)
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
        path = _write(d / _image_name(name), raw)
        cases.append(Case(f"image_{name}", LOAD_IMAGE, str(path), expect, (path,), "ImageError",
                          expected={"size": hi.SIZE} if expect == OK else {}, note=note))
    bomb = _write(d / "bomb_64mp_bilevel.png", bilevel_png(8000, 8000))
    cases.append(Case("image_bomb_64mp_bilevel", LOAD_IMAGE, str(bomb), ERROR, (bomb,), "ImageTooLargeError",
                      note=f"valid 8000x8000 PNG in {bomb.stat().st_size:,} B (under Pillow's own limit)"))
    big = _write(d / "max_36mp_bilevel.png", bilevel_png(6000, 6000))
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


def _zip_cases(d: Path) -> list[Case]:
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
        path = _write(d / f"{name}.zip", raw)
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


def _folder_cases(d: Path) -> list[Case]:
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
        images = [_write(root / "images" / f, png()) for f in ("a.png", "b.png")]
        csv = _write(root / "labels.csv", raw)
        expected, error = (info, "VizcoreError") if expect == OK else ({}, info)
        cases.append(Case(f"folder_{name}", FROM_FOLDER, str(root / "images"), expect, (*images, csv), error,
                          csv=csv, expected=expected, note=note))
    return cases


# --- checkpoints and specs: load_model ------------------------------------------------------------------------


class _RunsCode:
    """Unpickling this calls open(marker, "w"): proof that a loader executed code from the file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def _models_dir() -> Path:
    from vizcore.models.bundled import models_dir

    return models_dir()


def _checkpoint_cases(d: Path) -> list[Case]:
    import torch

    src = _models_dir()
    vit_w, vit_card = src / "tiny_vit.safetensors", json.loads((src / "tiny_vit.json").read_text())
    cases: list[Case] = []

    def add(name: str, expect: str, raw: bytes | None, suffix: str, query: str = "", card: dict | None = None,
            error: str = "VizcoreError", marker: Path | None = None, note: str = "", **extra: object) -> None:
        path = d / name / f"weights{suffix}"
        files = [_write(path, raw if raw is not None else vit_w.read_bytes())]
        if card is not None:
            files.append(_write(path.with_suffix(".json"), json.dumps(card).encode()))
        cases.append(Case(f"ckpt_{name}", LOAD_MODEL, f"file:{path}{query}", expect, tuple(files), error,
                          marker=marker, app=name in APP_CHECKPOINTS, note=note, **extra))

    add("bundled_copy_with_card", OK, None, ".safetensors", card=vit_card, expected={"kind": "vit"},
        note="tiny_vit weights + its model card: the control case")
    buf = io.BytesIO()
    torch.save({"model": _test_vit_state_dict(), "epoch": 3}, buf)
    add("pth_with_arch", OK, buf.getvalue(), ".pth", f"?arch={ARCH}", expected={"kind": "vit"},
        note="a training checkpoint {'model': state dict, 'epoch'} of test_vit: the .pth control case")
    for name, how, query, card in (("pickle_runs_code", "plain pickle", f"?arch={ARCH}", None),
                                   ("torch_save_runs_code", "torch.save zip", f"?arch={ARCH}", None),
                                   ("pickle_runs_code_no_arch", "plain pickle, no arch (MAE guess)", "", None),
                                   ("pickle_runs_code_with_card", "plain pickle + model card", "", vit_card)):
        marker = d / name / "PWNED"
        marker.unlink(missing_ok=True)
        payload = {"model": {"pos_embed": _RunsCode(str(marker))}}
        if "torch_save" in name:
            buf = io.BytesIO()
            torch.save(payload, buf)
            raw = buf.getvalue()
        else:
            raw = pickle.dumps(payload)
        add(name, ERROR, raw, ".pth", query, card, "CheckpointError", marker, f"{how}; must never run")
    whole = vit_w.read_bytes()
    add("truncated_safetensors_card", ERROR, whole[: len(whole) // 3], ".safetensors", card=vit_card,
        error="CheckpointError", note="a third of tiny_vit.safetensors, card beside")
    add("truncated_safetensors_arch", ERROR, whole[:1000], ".safetensors", f"?arch={ARCH}", error="CheckpointError",
        note="first 1,000 bytes")
    add("safetensors_huge_header", ERROR, struct.pack("<Q", 2**62) + b"{}", ".safetensors", f"?arch={ARCH}",
        error="CheckpointError", note="header length 2^62")
    add("empty_safetensors", ERROR, b"", ".safetensors", f"?arch={ARCH}", error="CheckpointError", note="0 bytes")
    add("text_renamed_pth", ERROR, b"these are my notes", ".pth", f"?arch={ARCH}", error="CheckpointError",
        note="text file renamed .pth")
    buf = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(1000)}}, buf)
    add("truncated_pth", ERROR, buf.getvalue()[:-200], ".pth", f"?arch={ARCH}", error="CheckpointError",
        note="torch.save zip cut short")
    add("wrong_arch_timm", ERROR, None, ".safetensors", f"?arch={REAL_ARCH}", error="CheckpointError",
        note="tiny_vit (4 x 128) weights named as vit_tiny_patch16_224 (12 x 192)")
    add("wrong_arch_card", ERROR, (src / "ae_2d.safetensors").read_bytes(), ".safetensors", card=vit_card,
        error="CheckpointError", note="autoencoder weights beside a ViT card")
    add("no_arch_no_card", ERROR, None, ".safetensors", error="ModelError",
        note="plain ViT weights, nothing says which architecture")
    add("unknown_arch_name", ERROR, None, ".safetensors", "?arch=vit_tinny_patch16_224", error="ModelError",
        note="typo in arch=")
    add("card_not_json", ERROR, None, ".safetensors", card=None, error="ModelError", note="card is not JSON")
    _write(d / "card_not_json" / "weights.json", b"{not json")
    add("card_unknown_kind", ERROR, None, ".safetensors", card={**vit_card, "kind": "rootkit"}, error="ModelError",
        note="card kind nobody builds")
    bad_arch = {**vit_card, "architecture": {**vit_card["architecture"], "num_heads": 5}}
    add("card_heads_do_not_divide", ERROR, None, ".safetensors", card=bad_arch, error="ModelError",
        note="embed_dim 128 with num_heads 5")
    wrong_type = {**vit_card, "architecture": {**vit_card["architecture"], "depth": "four"}}
    add("card_depth_is_text", ERROR, None, ".safetensors", card=wrong_type, error="ModelError",
        note='"depth": "four"')
    missing = d / "missing" / "nothing_here.safetensors"
    cases.append(Case("ckpt_missing_file", LOAD_MODEL, f"file:{missing}?arch={ARCH}", ERROR, (), "CheckpointError",
                      note="no such file"))
    return cases


def _test_vit_state_dict() -> dict:
    import timm
    import torch

    torch.manual_seed(0)
    return timm.create_model(ARCH, pretrained=False).state_dict()


def _spec_cases() -> list[Case]:
    specs = [  # spec, error, kwargs, note
        ("timm:vit_smal_patch16_224", "ModelError", {}, "typo: suggests close names"),
        ("timm:definitely_not_a_model", "ModelError", {}, "unknown name"),
        ("timm:../../etc/passwd", "ModelError", {}, "a path as a name"),
        ("timm:resnet18", "ModelError", {"pretrained": False}, "a real timm model that is not a ViT"),
        ("timm:vit_tiny_patch16_224", "WeightsUnavailableError", {}, "no cached weights: fails fast, no network"),
        ("bundled:no_such_model", "ModelError", {}, "unknown bundled name"),
        ("vit_base_patch16_224", "ModelError", {}, "no scheme"),
    ]
    return [Case(f"spec_{spec.replace(':', '_').replace('/', '_').replace('.', '_')}", LOAD_MODEL, spec, ERROR,
                 error=error, kwargs=kwargs, app=spec.startswith("timm:"), note=note)
            for spec, error, kwargs, note in specs]


# --- command line ---------------------------------------------------------------------------------------------


def run(case: Case) -> tuple[str, float]:
    """(outcome, seconds): "ok", or the error class and the start of its message."""
    start = time.perf_counter()
    try:
        consume(case)
        outcome = OK
    except Exception as exc:  # noqa: BLE001 - reported, not handled
        outcome = f"{type(exc).__name__}: {str(exc)[:90]}"
    return outcome, time.perf_counter() - start


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python -m tests.hostile_corpus OUT_DIR [--run]")
        return 2
    cases = build(argv[0])
    execute = "--run" in argv
    print(f"| case | entry point | expect | bytes | {'result | s |' if execute else 'note |'}")
    print(f"|---|---|---|---|{'---|---|' if execute else '---|'}")
    for c in cases:
        size = sum(f.stat().st_size for f in c.files if f.is_file())
        expect = c.expect if c.expect == OK else c.error
        tail = " | ".join(f"{x:.2f}" if isinstance(x, float) else x for x in run(c)) if execute else c.note
        print(f"| {c.name} | {c.entry} | {expect} | {size:,} | {tail} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
