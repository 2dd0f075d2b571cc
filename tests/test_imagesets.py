"""`vizcore.imagesets` / `vizcore.safezip` over good and hostile archives, and the bundled offline data sets.

Every archive is built here in memory (no binary fixtures): sub-folder and CSV labels, CSV encodings, zip bombs
(honest and lying headers), path traversal, symbolic links, 10,000-member archives, non-zips, corrupt images.
"""

from __future__ import annotations

import io
import socket
import stat
import struct
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vizcore.data import Dataset, load_dataset
from vizcore.data import registry as data
from vizcore.data.imagesets import ImageSet, Reason, from_folder, from_zip
from vizcore.errors import InputError
from vizcore.io import archives as safezip
from vizcore.io import images as image_io

RED, GREEN = (255, 0, 0), (0, 255, 0)
BOMB_BYTES = 50 * 2**20


def png(colour: tuple[int, int, int] = RED, size: tuple[int, int] = (8, 6)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def make_zip(entries: dict[str, bytes] | list[tuple[str | zipfile.ZipInfo, bytes]],
             compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip holding `entries` (names are written verbatim, even hostile ones)."""
    buf = io.BytesIO()
    items = entries.items() if isinstance(entries, dict) else entries
    with warnings.catch_warnings(), zipfile.ZipFile(buf, "w", compression) as zf:
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        for name, payload in items:
            info = name if isinstance(name, zipfile.ZipInfo) else zipfile.ZipInfo(name)
            info.compress_type = compression
            zf.writestr(info, payload)
    return buf.getvalue()


def reasons(result: ImageSet) -> dict[str, str]:
    return dict(result.skipped)


@pytest.fixture(scope="module")
def zeros_member() -> bytes:
    """A zip with one 50 MB member of zeros, compressed to about 50 KB."""
    return make_zip({"bomb.png": bytes(BOMB_BYTES)})


def measured(fn):
    """Run fn() and return (result or raised exception, seconds, peak Python allocation in bytes)."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001 - returned for the test to inspect
        out = exc
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak


# --- labels ---------------------------------------------------------------------------------------------------


def test_subfolder_labels_and_junk_is_skipped_and_counted() -> None:
    archive = make_zip({
        "cats/1.png": png(RED), "cats/2.jpg": _jpeg(), "dogs/a.png": png(GREEN), "notes.txt": b"hello",
        "__MACOSX/cats/._1.png": b"\0\5\26\7", ".DS_Store": b"\0", "cats/.hidden.png": png(), "dogs/": b"",
    })
    result = from_zip(archive, name="pets.zip")
    d = result.dataset
    assert d.name == "upload:pets.zip"
    assert d.images.shape == (3, 3, 64, 64) and d.images.dtype == torch.float32
    assert float(d.images.min()) >= 0.0 and float(d.images.max()) <= 1.0
    assert d.label_names == ("cats", "dogs")
    assert dict(zip(d.ids, d.labels.tolist())) == {"cats/1.png": 0, "cats/2.jpg": 0, "dogs/a.png": 1}
    assert result.skip_counts == {Reason.MACOS: 1, Reason.HIDDEN: 2, Reason.NOT_IMAGE: 1}
    assert "Loaded 3 images in 2 classes; skipped 4" in result.summary()


@pytest.mark.parametrize(("names", "labels"), [
    (["data/cats/1.png", "data/dogs/1.png", "data/dogs/deep/2.png"], ("cats", "dogs")),  # wrapper folder
    (["cats/1.png", "cats/2.png"], ("cats",)),  # one folder: its name
    (["1.png", "2.png"], ("unlabelled",)),  # archive root
])
def test_folder_label_rules(names: list[str], labels: tuple[str, ...]) -> None:
    assert from_zip(make_zip({n: png() for n in names})).dataset.label_names == labels


def test_images_are_fitted_keeping_aspect_with_black_padding() -> None:
    d = from_zip(make_zip({"wide.png": png(RED, size=(40, 20))})).dataset
    img = (d.images[0].permute(1, 2, 0).numpy() * 255).round()  # (64, 64, 3)
    assert np.all(img[:15] == 0) and np.all(img[-15:] == 0)  # 64 x 32 content, centred: 16 rows pad each side
    assert np.all(img[17:47] == RED)


def test_csv_labels_with_metadata_partial_matches_and_duplicates() -> None:
    rows = "file,label,score,note\na.png,x,1.5,hi\nimgs/b.png,y,2,\nmissing.png,x,3,\na.png,y,4,dup\n"
    archive = make_zip({"imgs/a.png": png(), "imgs/b.png": png(), "imgs/c.png": png(), "labels.csv": rows.encode()})
    result = from_zip(archive)
    d = result.dataset
    assert d.ids == ("imgs/a.png", "imgs/b.png")
    assert [d.label_names[k] for k in d.labels] == ["x", "y"]
    assert d.metadata == {"score": (1.5, 2.0), "note": ("hi", "")}
    assert reasons(result) == {"missing.png": Reason.CSV_ROW_UNMATCHED, "a.png": Reason.CSV_ROW_DUPLICATE,
                               "imgs/c.png": Reason.NOT_IN_CSV}


def test_csv_in_wrapper_folder_named_columns_and_no_header() -> None:
    named = "id;class;path\n7;a;one.png\n8;b;sub/two.png\n"  # semicolons, file column found by name "path"
    d = from_zip(make_zip({"set/one.png": png(), "set/sub/two.png": png(), "set/meta.csv": named.encode()})).dataset
    assert d.label_names == ("a", "b") and d.metadata == {"id": (7, 8)}
    bare = "one.png,a\ntwo.png,b\n"  # the first row names an image: no header
    d = from_zip(make_zip({"one.png": png(), "two.png": png(), "labels.csv": bare.encode()})).dataset
    assert d.label_names == ("a", "b")


def test_csv_naming_no_image_is_refused_with_examples() -> None:
    archive = make_zip({"a.png": png(), "labels.csv": b"file,label\nnope1.png,x\nnope2.png,y\n"})
    with pytest.raises(InputError, match=r"None of the 2 file names.*'nope1.png', 'nope2.png'.*'a.png'"):
        from_zip(archive)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_csv_encodings_keep_accented_labels(encoding: str) -> None:
    rows = "file;label\na.png;café\nb.png;€uro crème brûlée\n".encode(encoding)
    d = from_zip(make_zip({"a.png": png(), "b.png": png(), "labels.csv": rows})).dataset
    assert d.label_names == ("café", "€uro crème brûlée")


def test_several_csvs_at_the_top_are_refused() -> None:
    archive = make_zip({"a.png": png(), "x.csv": b"file,label\na.png,1\n", "y.csv": b"file,label\na.png,2\n"})
    with pytest.raises(InputError, match="several CSV files"):
        from_zip(archive)


# --- hostile archives -----------------------------------------------------------------------------------------


def test_zip_bomb_member_is_skipped_unread_fast(zeros_member: bytes) -> None:
    assert len(zeros_member) < 200_000
    archive = make_zip({"ok.png": png(), "bomb.png": bytes(BOMB_BYTES)})
    result, seconds, peak = measured(lambda: from_zip(archive))
    assert reasons(result) == {"bomb.png": Reason.BOMB}
    assert seconds < 2 and peak < 5 * 2**20
    out, seconds, peak = measured(lambda: from_zip(zeros_member))  # nothing else in it: no images
    assert isinstance(out, InputError) and "no images" in str(out)
    assert seconds < 2 and peak < 5 * 2**20


def test_lying_header_cannot_expand_past_its_declared_size() -> None:
    honest = make_zip({"ok.png": png(), "liar.png": bytes(BOMB_BYTES)})
    real, fake = struct.pack("<I", BOMB_BYTES), struct.pack("<I", 1000)
    assert honest.count(real) == 2  # local header and central directory
    result, seconds, peak = measured(lambda: from_zip(honest.replace(real, fake)))
    assert reasons(result) == {"liar.png": Reason.DAMAGED}  # read stops at 1,000 bytes; the CRC then fails
    assert seconds < 2 and peak < 5 * 2**20


def test_total_uncompressed_limit_refuses_before_reading() -> None:
    archive = make_zip({f"{i}.png": png(size=(64, 64)) for i in range(5)})
    with pytest.raises(InputError, match="expands to"):
        from_zip(archive, max_total_uncompressed=len(png(size=(64, 64))) * 3)


def test_member_over_the_byte_limit_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_io, "MAX_BYTES", 2000)
    noise = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    big = io.BytesIO()
    Image.fromarray(noise).save(big, "PNG")
    assert reasons(from_zip(make_zip({"ok.png": png(), "big.png": big.getvalue()}))) == {"big.png": Reason.TOO_LARGE}


@pytest.mark.parametrize("name", ["../evil.png", "/etc/evil.png", "C:/evil.png", "c:evil.png", "..\\evil.png",
                                  "a/../../evil.png", "\\\\server\\share\\evil.png"])
def test_unsafe_paths_are_skipped_never_resolved(name: str) -> None:
    result = from_zip(make_zip([(name, png(GREEN)), ("ok/good.png", png())]))
    assert result.dataset.ids == ("ok/good.png",)
    assert reasons(result) == {name: Reason.UNSAFE_PATH}


def mark_encrypted(archive: bytes, name: str) -> bytes:
    """Set the "encrypted" flag of member `name` in its local and central headers (zipfile never writes it)."""
    out = bytearray(archive)
    for signature, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = out.find(signature)
        while at >= 0:
            if out[at + name_at:at + name_at + len(name)] == name.encode():
                out[at + flag_at] |= 0x1
            at = out.find(signature, at + 1)
    return bytes(out)


def test_symlink_encrypted_and_duplicate_members_are_skipped() -> None:
    link = zipfile.ZipInfo("link.png")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = make_zip([(link, b"/etc/passwd"), ("locked.png", png()), ("a.png", png()), ("a.png", png(GREEN))])
    result = from_zip(mark_encrypted(archive, "locked.png"))
    assert result.dataset.ids == ("a.png",)
    assert result.skipped == (("link.png", Reason.SYMLINK), ("locked.png", Reason.ENCRYPTED),
                              ("a.png", Reason.DUPLICATE))


def test_corrupt_images_are_skipped_and_counted() -> None:
    good = png()
    archive = make_zip({"good.png": good, "truncated.png": good[:30], "fake.jpg": b"not really a jpeg"})
    result = from_zip(archive)
    assert result.dataset.ids == ("good.png",)
    assert result.skip_counts == {Reason.UNREADABLE: 2}
    archive = make_zip({"small.png": png(size=(3, 3)), "large.png": png(size=(8, 6))})
    assert reasons(from_zip(archive, max_pixels=10)) == {"large.png": Reason.TOO_MANY_PIXELS}


def test_all_images_unreadable_is_refused() -> None:
    with pytest.raises(InputError, match=r"None of the 2 images .*unreadable image"):
        from_zip(make_zip({"a.png": b"junk", "b.png": b"more junk"}))


@pytest.mark.parametrize("entries", [{"readme.txt": b"hi", "data.json": b"{}"}, {}])
def test_zip_without_images_says_what_was_expected(entries: dict[str, bytes]) -> None:
    with pytest.raises(InputError, match=r"no images \(PNG, JPEG.*sub-folder per label"):
        from_zip(make_zip(entries))


@pytest.fixture(scope="module")
def ten_thousand() -> bytes:
    tiny = png(size=(2, 2))
    return make_zip({f"c{i % 3}/{i:05d}.png": tiny for i in range(10_000)}, zipfile.ZIP_STORED)


def test_ten_thousand_members_refused_from_the_directory_record_before_parsing(
        ten_thousand: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("zipfile parsed the directory before the member count was checked")

    monkeypatch.setattr(safezip.zipfile, "ZipFile", never)
    start = time.perf_counter()
    with pytest.raises(InputError, match="holds 10,000 files, more than the 5,000"):
        from_zip(ten_thousand, max_members=5000)
    assert time.perf_counter() - start < 0.5


def test_ten_thousand_images_over_max_images_refused_before_decoding(ten_thousand: bytes) -> None:
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"10,000 images.*more than the 1,000.*from_folder"):
        from_zip(ten_thousand, max_images=1000)
    assert time.perf_counter() - start < 3


@pytest.mark.parametrize("raw", [b"hello world" * 100, png(), make_zip({"a.png": png()})[:60]])
def test_not_a_zip_is_refused(raw: bytes) -> None:
    with pytest.raises(InputError, match="is not a zip archive"):
        from_zip(raw)


def test_empty_and_oversized_archives_are_refused() -> None:
    with pytest.raises(InputError, match="empty"):
        from_zip(b"")
    with pytest.raises(InputError, match="above the 0 MB limit"):
        from_zip(make_zip({"a.png": png()}), max_bytes=100)


# --- sources, progress, folders -------------------------------------------------------------------------------


def test_path_file_object_and_unseekable_sources(tmp_path: Path) -> None:
    archive = make_zip({"a/1.png": png(), "b/2.png": png()})
    path = tmp_path / "set.zip"
    path.write_bytes(archive)
    upload = io.BytesIO(archive)
    upload.name = "upload.zip"
    upload.read(5)  # a rerun may hand over a file object that was already read

    class Stream:  # read-only, no seek: e.g. a network stream
        def __init__(self) -> None:
            self.buf = io.BytesIO(archive)

        def read(self, n: int = -1) -> bytes:
            return self.buf.read(n)

    assert from_zip(path).dataset.name == "upload:set.zip"
    assert from_zip(upload).dataset.name == "upload:upload.zip"
    assert len(from_zip(Stream()).dataset) == 2


def test_progress_is_reported_per_image() -> None:
    calls: list[tuple[int, int]] = []
    from_zip(make_zip({f"{i}.png": png() for i in range(4)} | {"bad.png": b"x"}),
             progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 5) for i in range(1, 6)]


def test_bad_arguments_are_input_errors() -> None:
    archive = make_zip({"a.png": png()})
    for kwargs in ({"image_size": (0, 64)}, {"image_size": 64}, {"max_images": 0}):
        with pytest.raises(InputError):
            from_zip(archive, **kwargs)


def test_from_folder_with_symlinks_hidden_files_and_a_csv(tmp_path: Path) -> None:
    root = tmp_path / "set"
    for rel, payload in {"cats/1.png": png(), "dogs/2.png": png(GREEN), ".git/x.png": png(), "n.txt": b"x"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(payload)
    (tmp_path / "outside.png").write_bytes(png())
    (root / "cats" / "link.png").symlink_to(tmp_path / "outside.png")
    (root / "linked_dir").symlink_to(tmp_path)
    result = from_folder(root, progress=None)
    assert result.dataset.name == "folder:set" and result.dataset.label_names == ("cats", "dogs")
    assert reasons(result) == {".git": Reason.HIDDEN, "linked_dir": Reason.SYMLINK,
                               "cats/link.png": Reason.SYMLINK, "n.txt": Reason.NOT_IMAGE}
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label,w\ncats/1.png,tabby,3\n2.png,rex,4\n")
    d = from_folder(root, csv=labels).dataset
    assert d.label_names == ("rex", "tabby") and d.metadata == {"w": (3, 4)}
    with pytest.raises(InputError, match="There is no folder"):
        from_folder(tmp_path / "missing")


# --- bundled data sets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "n", "shape", "classes"), [
    ("scenes", 2000, (3, 64, 64), 8), ("faces", 200, (1, 25, 25), 2), ("photos", 518, (3, 64, 64), 9),
])
def test_bundled_image_sets_are_consistent(name: str, n: int, shape: tuple[int, ...], classes: int) -> None:
    d = load_dataset(name)
    assert d.name == name and len(d) == n and tuple(d.images.shape) == (n, *shape)
    assert d.images.dtype == torch.float32 and float(d.images.min()) >= 0.0 and float(d.images.max()) <= 1.0
    assert d.labels.dtype == np.int64 and len(d.label_names) == classes
    assert set(d.labels.tolist()) == set(range(classes))  # every class is present
    assert len(set(d.ids)) == n and all(len(col) == n for col in d.metadata.values())


def test_faces_and_photos_load_with_the_network_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("a bundled data set tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    data._cached_samples.cache_clear()
    faces, photos = data._load_faces(), data._load_photos()
    assert faces.label_names == ("face", "non-face") and np.bincount(faces.labels).tolist() == [100, 100]
    assert photos.metadata["tile_row"][:2] == (0, 0) and photos.ids[1] == "photos/astronaut/0-1"


def test_dataset_metadata_columns_must_have_one_value_per_image() -> None:
    images, labels = torch.zeros(2, 1, 4, 4), np.zeros(2, np.int64)
    assert Dataset("x", images, labels, ("a",), ("0", "1")).metadata == {}
    with pytest.raises(InputError, match="metadata columns"):
        Dataset("x", images, labels, ("a",), ("0", "1"), {"w": (1, 2, 3)})


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (10, 30), GREEN).save(buf, "JPEG")
    return buf.getvalue()
