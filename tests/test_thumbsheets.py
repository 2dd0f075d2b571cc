"""Hover thumbnail sheets (`ui.thumbsheets`): row i is cell i % 256 of sheet i // 256, written once per data set in
the background, resumed after a stop, and one broken image costs one white cell."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from vizcore.figures.pointmap import NO_IMAGE
from vizcore.ui import thumbsheets


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(thumbsheets, "_jobs", {})  # a fresh process's tables
    monkeypatch.setattr(thumbsheets, "_failed", {})
    return tmp_path


def _digit(i: int) -> np.ndarray:
    """An 8 x 8 grey image whose pixels encode its row: (i * 7 + r * 8 + c) % 256."""
    v = (i * 7 + np.arange(64).reshape(8, 8)) % 256
    return np.repeat(v.astype(np.uint8)[..., None], 3, axis=-1)


def _digits(rows: range) -> list[np.ndarray]:
    return [_digit(i) for i in rows]


def _wait(sheets: thumbsheets.Sheets, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while sheets.status() == "writing":
        assert time.monotonic() < end, "thumbnail sheets not written in time"
        time.sleep(0.02)


def _cell(sheets: thumbsheets.Sheets, i: int) -> np.ndarray:
    per = sheets.cells ** 2
    sheet = np.asarray(Image.open(sheets.folder / f"{i // per}.{sheets.ext}"))
    r, c = divmod(i % per, sheets.cells)
    return sheet[r * sheets.side:(r + 1) * sheets.side, c * sheets.side:(c + 1) * sheets.side]


def test_row_i_is_cell_i_of_its_sheet_and_the_job_finishes(cache):
    n = 600  # three sheets, the last one partial
    sheets = thumbsheets.start("digits-test", n, _digits, side=8, fmt="png")
    assert sheets.ext == "png" and sheets.cells == 16 and sheets.sheets == 3
    assert sheets.url.startswith("../") and sheets.url.endswith(f"/{sheets.folder.name}/")
    assert sheets.folder.parent == cache / "thumbsheets"
    _wait(sheets)
    for i in (0, 1, 255, 256, 511, 599):
        assert (_cell(sheets, i) == _digit(i)[..., 0]).all(), i
    assert (_cell(sheets, 600) == 255).all()  # past the last row: white
    assert (sheets.folder / thumbsheets.DONE).is_file() and sheets.status() == "ready"
    assert sheets.args() == {"url": sheets.url, "ext": "png", "side": 8, "cells": 16, "count": n}


def test_one_job_per_data_set_and_a_stopped_job_resumes(cache):
    calls = []
    gate = threading.Event()

    def slow(rows):
        gate.wait(10)
        calls.extend(rows)
        return _digits(rows)

    first = thumbsheets.start("resume-test", 300, slow, side=8, fmt="png")
    again = thumbsheets.start("resume-test", 300, slow, side=8, fmt="png")  # the same folder, not a second job
    assert again == first
    gate.set()
    _wait(first)
    time.sleep(0.1)
    assert sorted(calls) == list(range(300))  # every image read once
    kept = (first.folder / "0.png").stat().st_mtime_ns
    (first.folder / "1.png").unlink()
    (first.folder / thumbsheets.DONE).unlink()
    calls.clear()
    thumbsheets._jobs.clear()  # a restarted server
    thumbsheets.start("resume-test", 300, slow, side=8, fmt="png")
    _wait(first)
    time.sleep(0.1)
    assert sorted(calls) == list(range(256, 300))  # only the missing sheet
    assert (first.folder / "0.png").stat().st_mtime_ns == kept
    thumbsheets._jobs.clear()
    calls.clear()
    done = thumbsheets.start("resume-test", 300, slow, side=8, fmt="png")
    assert done.status() == "ready" and not thumbsheets._jobs and not calls  # complete: nothing more to write


def test_a_broken_image_is_a_no_image_cell_and_the_others_are_written(cache):
    def image(rows):  # a sheet holding a broken file raises: its rows are then read one by one
        if 3 in rows:
            raise OSError("truncated file")
        return [None if i == 4 else _digit(i) for i in rows]

    sheets = thumbsheets.start("broken-test", 10, image, side=8, fmt="jpeg")
    assert sheets.ext == "jpg"
    _wait(sheets)
    no_image = np.asarray(_cell(sheets, 4), int)[..., 0]  # a row without an image: grey, crossed (JPEG: near)
    assert abs(no_image[4, 1] - NO_IMAGE[0]) < 12 and abs(no_image[0, 0] - NO_IMAGE[1]) < 24
    assert np.abs(np.asarray(_cell(sheets, 3), int) - np.asarray(_cell(sheets, 4), int)).max() < 12  # unreadable
    assert np.abs(_cell(sheets, 5).astype(int) - _digit(5).astype(int)).mean() < 12  # JPEG: close, not exact


def test_keys_sizes_and_formats_get_their_own_folders_and_bad_arguments_fail(cache):
    a = thumbsheets.start("k", 5, _digits, side=8, fmt="png")
    assert thumbsheets.start("k", 6, _digits, side=8, fmt="png").folder != a.folder
    assert thumbsheets.start("k", 5, _digits, side=8, fmt="jpeg").folder != a.folder
    assert thumbsheets.start("other", 5, _digits, side=8, fmt="png").folder != a.folder
    for bad in (dict(count=0), dict(side=0), dict(fmt="gif")):
        with pytest.raises(ValueError):
            thumbsheets.start("k", **{"count": 5, "images": _digits, "side": 8, "fmt": "png", **bad})


def test_a_sheet_on_disk_is_whole_or_absent(cache):
    sheets = thumbsheets.start("atomic-test", 256 * 4, _digits, side=8, fmt="png")
    _wait(sheets)
    assert not list(sheets.folder.glob("*.tmp"))
    for s in range(4):
        Image.open(io.BytesIO((sheets.folder / f"{s}.png").read_bytes())).load()


def test_a_small_data_set_in_memory_is_written_before_start_returns():
    sheets = thumbsheets.start("small-test", 1_797, _digits, side=8, fmt="png", in_memory=True)
    assert sheets.status() == "ready" and sheets.sheets == 8
    assert (_cell(sheets, 1_796) == _digit(1_796)[..., 0]).all()


def test_an_unwritable_cache_turns_thumbnails_off_and_a_disk_error_stops_the_job_for_good(cache, monkeypatch, caplog):
    blocked = cache / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(blocked))
    assert thumbsheets.start("off-test", 10, _digits, side=8, fmt="png") is None  # the map shows text on hover
    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(cache))

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(thumbsheets, "_atomic", full)
    sheets = thumbsheets.start("full-test", 600, _digits, side=8, fmt="png")
    _wait(sheets)
    assert sheets.status() == "failed: OSError: [Errno 28] No space left on device"
    again = thumbsheets.start("full-test", 600, _digits, side=8, fmt="png")
    assert again.status().startswith("failed") and len(thumbsheets._jobs) == 1  # not retried on every rerun


def test_sheets_of_changed_files_are_written_again(cache):
    state = {0: "a", 1: "a"}
    seen = []

    def images(rows):
        seen.extend(rows)
        return _digits(rows)

    def stamp(rows):
        return state[rows.start // 256]

    sheets = thumbsheets.start("stamp-test", 300, images, side=8, fmt="png", stamp=stamp)
    _wait(sheets)
    assert sorted(seen) == list(range(300))
    state[1] = "b"  # a file of sheet 1 changed
    seen.clear()
    thumbsheets._jobs.clear()  # the next server checks the stamps once
    thumbsheets.start("stamp-test", 300, images, side=8, fmt="png", stamp=stamp)
    deadline = time.monotonic() + 30
    while thumbsheets._jobs and any(j.is_alive() for j in thumbsheets._jobs.values()):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert sorted(seen) == list(range(256, 300))  # only the changed sheet
    assert (sheets.folder / "1.stamp").read_text() == "b"


def test_two_writers_of_one_folder_never_leave_a_broken_sheet(cache):
    sheets = thumbsheets.start("race-test", 600, _digits, side=8, fmt="png")
    others = [threading.Thread(target=thumbsheets.write, args=(sheets, _digits, "png")) for _ in range(3)]
    for t in others:
        t.start()
    for t in [*others, thumbsheets._jobs[sheets.folder.name]]:  # the background job too: it may be mid-sheet
        t.join()
    assert sheets.status() == "ready" and not list(sheets.folder.glob("*.tmp"))
    for i in (0, 300, 599):
        assert (_cell(sheets, i) == _digit(i)[..., 0]).all()


def test_the_data_set_opened_last_is_written_first(cache):
    """A big folder's job left running must not hold up the thumbnails of the data set on screen: the older job
    waits between two sheets until the newer one is done, then goes on."""
    newer_started, older_go = threading.Event(), threading.Event()

    def older_images(rows: range) -> list[np.ndarray]:
        if rows.start == 0:
            assert newer_started.wait(30)
        else:
            assert older_go.wait(30)  # while the newer job needs the writer, the older one must not get here
        return _digits(rows)

    older = thumbsheets.start("big-folder", 3 * 256, older_images, side=8, fmt="png")
    newer = thumbsheets.start("on-screen", 2 * 256, _digits, side=8, fmt="png")
    newer_started.set()
    _wait(newer, timeout=20)  # one job at a time would wait here for the older one's last sheets
    assert newer.status() == "ready" and older.status() == "writing"
    older_go.set()
    _wait(older)
    assert older.status() == "ready" and (_cell(older, 767) == _digit(767)[..., 0]).all()
    assert not {older.folder.name, newer.folder.name} & set(thumbsheets._running)  # both jobs are over


def test_a_data_set_opened_again_goes_ahead_of_the_newer_one(cache):
    """A, then B, then A again (the user went back): A's remaining sheets are written before B's."""
    order: list[str] = []
    b_waits, go = threading.Event(), threading.Event()

    def tracked(tag: str, gate: threading.Event | None = None):
        def images(rows: range) -> list[np.ndarray]:
            if gate is not None and rows.start == 0:
                assert gate.wait(30)
            order.append(f"{tag}{rows.start // 256}")
            return _digits(rows)
        return images

    a = thumbsheets.start("went-back-a", 4 * 256, tracked("A", b_waits), side=8, fmt="png")
    b = thumbsheets.start("went-back-b", 4 * 256, tracked("B", go), side=8, fmt="png")
    b_waits.set()  # A has written its first sheet by the time B's first starts; then the user goes back to A
    while "A0" not in order:
        time.sleep(0.01)
    thumbsheets.start("went-back-a", 4 * 256, tracked("A"), side=8, fmt="png")
    go.set()
    _wait(a)
    _wait(b)
    assert order.index("A3") < order.index("B3"), order


def test_a_job_that_cannot_start_or_whose_stamp_fails_says_so_and_holds_up_no_one(cache, monkeypatch):
    older = thumbsheets.start("older", 2 * 256, _digits, side=8, fmt="png", stamp=lambda rows: "s")
    real = threading.Thread.start

    def no_thread(self):
        if self.name.startswith("vizcore-thumbs"):
            raise RuntimeError("can't start new thread")
        return real(self)

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    newer = thumbsheets.start("newer", 2 * 256, _digits, side=8, fmt="png")
    monkeypatch.setattr(threading.Thread, "start", real)
    assert newer.status().startswith("failed: no thread")
    _wait(older)
    assert older.status() == "ready"

    def broken_stamp(rows: range) -> str:
        raise ValueError("cannot stat")

    broken = thumbsheets.start("broken-stamp", 300, _digits, side=8, fmt="png", stamp=broken_stamp)
    _wait(broken)
    assert broken.status() == "failed: ValueError: cannot stat"
