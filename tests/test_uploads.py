"""Uploads: partial success, named failures (issue 13 §6). Every rejected file is listed by name with its reason."""

from __future__ import annotations

import io
import zipfile

from PIL import Image

from vizcore.data import imagesets


def _png(colour=(200, 40, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 10), colour).save(buf, "PNG")
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_image_set_report_names_every_skipped_file_with_its_reason():
    blob = _zip({"cats/a.png": _png(), "dogs/b.png": _png((0, 90, 200)), "cats/broken.png": b"not a picture",
                 "dogs/notes.png": b"plain text renamed", "readme.txt": b"hello"})
    found = imagesets.from_zip(blob, name="pets.zip")
    assert len(found.dataset) == 2  # the good files are kept
    report = found.report()
    assert report.splitlines()[0] == found.summary()
    for name in ("cats/broken.png", "dogs/notes.png", "readme.txt"):
        line = next(line for line in report.splitlines() if name in line)
        reason = dict(found.skipped)[name]
        assert line.strip() == f"skipped {name}: {reason}"
    assert found.skipped_lines(limit=1)[-1] == "... and 2 more"
