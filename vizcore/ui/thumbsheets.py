"""Hover thumbnails for maps of any size: sheets of thumbnails on disk, fetched by the map in the browser.

A data set's images are fitted into THUMB_SIDE-px cells and written 256 to a sheet (16 x 16 cells, row-major:
row i of the data set is cell i % 256 of sheet i // 256) to `$VIZCORE_CACHE_DIR/thumbsheets/<folder>/<sheet>.<ext>`
(default `~/.cache/vizcore/thumbsheets`). A background thread writes them in row order, once per data set (the
data set opened last first: an older job waits between two sheets until the newer ones are done, so a big folder
left behind never holds up the data set on screen), so a rerun, another colour or search, or another session reuses
the folder, and a restarted server goes on where the last one stopped. Images read from files carry a stamp per
sheet (their sizes and modification times): a server checks them once, in the background, and rewrites the sheets
whose files changed. The map's browser code (`ui/pointmap_frontend`) fetches a sheet the first time one of its
points is hovered and keeps the last 64; a sheet not written yet shows the point's text alone until it is.

The folder is served by Streamlit as the files of a component that is never drawn (`declare_component(path=...)`),
so nothing but Streamlit's own server answers: anyone who can open the app can read the thumbnails of a data set
whose folder name they know (a hash of its key). Delete the folder to free the disk (about 17 MB per 100,000
grey 28-px digits, about 0.3 GB per million 32-px photos). When it cannot be written, maps show text on hover.

    sheets = thumbsheets.start("digits", len(images), lambda rows: [as_uint8(images[i]) for i in rows], side=8,
                               fmt="png", in_memory=True)
    pointmap.draw(pm, key="map", map_id=..., thumbs=sheets)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit.components.v1 as components

from vizcore.data.embedding_store import cache_root
from vizcore.figures.pointmap import thumbnail_sheet

CELLS = 16                   # cells a sheet row (and rows a sheet)
PER_SHEET = CELLS * CELLS    # thumbnails a sheet
INLINE_MAX = 4_096           # in-memory images up to this many are written before `start` returns (tens of ms)
VERSION = 2                  # bump when what a sheet holds changes (2: no-image cells): old folders are ignored
DONE = "done.json"
EXT = {"png": "png", "jpeg": "jpg"}
LOGGED_ROWS = 5              # unreadable rows logged one by one per job; the rest are counted

Images = Callable[[range], Sequence[np.ndarray | None]]
Stamp = Callable[[range], str]

log = logging.getLogger(__name__)
_lock = threading.Lock()      # guards the tables below
_turn = threading.Condition(_lock)  # a background job writes its next sheet when it is the newest one running
_running: list[str] = []      # folder names of background jobs in the order they started (the last one writes)
_jobs: dict[str, threading.Thread] = {}  # folder name -> its job in this process (running or finished)
_failed: dict[str, str] = {}  # folder name -> why its job stopped (not retried in this process)
_unwritable: set[str] = set()  # cache roots already reported as unwritable


def root() -> Path:
    """The folder holding one sub-folder of sheets per data set."""
    return cache_root() / "thumbsheets"


@dataclass(frozen=True)
class Sheets:
    """Where a data set's thumbnail sheets are and how to cut them.

    Attributes:
        url: the folder relative to the map's frame ("../<component>/<folder>/"); sheet s is `url + f"{s}.{ext}"`.
        ext: "png" or "jpg".
        side: cell side in pixels.
        cells: cells a sheet row (CELLS).
        count: thumbnails in all (the data set's rows).
        folder: the folder on disk.
    """

    url: str
    ext: str
    side: int
    cells: int
    count: int
    folder: Path

    @property
    def sheets(self) -> int:
        return -(-self.count // (self.cells * self.cells))

    def status(self) -> str:
        """"ready" (every sheet written), "writing", or "failed: <why>" (the job stopped; the rest show text)."""
        with _lock:
            failed = _failed.get(self.folder.name)
        if failed:
            return f"failed: {failed}"
        return "ready" if (self.folder / DONE).is_file() else "writing"

    def args(self) -> dict:
        """What the browser needs, as the map component's `thumbs` argument."""
        return {"url": self.url, "ext": self.ext, "side": self.side, "cells": self.cells, "count": self.count}


def start(key: str, count: int, images: Images, *, side: int, fmt: str, in_memory: bool = False,
          stamp: Stamp | None = None) -> Sheets | None:
    """The sheets of `count` thumbnails, or None when the cache folder cannot be written (logged once).

    `images(rows)` gives those rows (a range of at most 256) as uint8 (h, w, 3) arrays, None where a row has no
    image (a light grey crossed cell, `figures.pointmap.NO_IMAGE`). `stamp(rows)`, for images read from files,
    names their current state (e.g. sizes and modification times): a sheet whose stamp changed is written again.

    In-memory images (`in_memory`) up to INLINE_MAX are written before returning. Otherwise it returns at once and a
    daemon thread writes the missing sheets in row order, unless this process already ran the folder's job or the
    folder is complete (and has no stamps to check). Each sheet is written atomically: whole or absent. When
    `images` raises, the sheet's rows are read one at a time and a row that still raises gets the no-image cell;
    any other error (a disk error, a stamp that raises) stops the job (`Sheets.status()` says why) and the map shows
    text for the rest.

    Raises:
        ValueError: count < 1, side < 1, or fmt not "png" / "jpeg".
    """
    if count < 1 or side < 1 or fmt not in EXT:
        raise ValueError(f"thumbnail sheets need count, side >= 1 and fmt 'png' or 'jpeg'; got {count}, {side}, "
                         f"{fmt!r}.")
    name = hashlib.sha256(json.dumps([VERSION, key, count, side, fmt]).encode()).hexdigest()[:32]
    folder = root() / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        served = _served()
    except OSError as exc:
        if str(root()) not in _unwritable:
            _unwritable.add(str(root()))
            log.warning("Hover thumbnails are off: %s cannot be written (%s). Set VIZCORE_CACHE_DIR to a writable "
                        "folder.", root(), exc)
        return None
    sheets = Sheets(f"../{served.name}/{name}/", EXT[fmt], side, CELLS, count, folder)
    inline = in_memory and count <= INLINE_MAX
    with _lock:
        if name in _running:  # opened again while its job waits behind a newer one: it is the newest now
            _running.remove(name)
            _running.append(name)
            _turn.notify_all()
        if name in _jobs or name in _failed or (stamp is None and (folder / DONE).is_file()):
            return sheets
        job = threading.Thread(target=_newest_first, args=(sheets, images, fmt, stamp),
                               name=f"vizcore-thumbs-{name[:8]}", daemon=True)
        _jobs[name] = job
        if not inline:
            _running.append(name)
    if inline:
        write(sheets, images, fmt, stamp)  # here, now: a few sheets
        return sheets
    try:
        job.start()
    except RuntimeError as exc:  # no thread to be had: no thumbnails for this one, and the others go on
        _stop(name, f"no thread for the thumbnail job ({exc})")
        log.warning("Hover thumbnails are off for %s: %s", folder, exc)
    return sheets


def _stop(name: str, why: str) -> None:
    """Record why the job of folder `name` stopped and let the jobs waiting behind it go on."""
    with _lock:
        _failed[name] = why
    _leave(name)


def _leave(name: str) -> None:
    """Job `name` writes no more: the newest of the others goes on."""
    with _turn:
        if name in _running:
            _running.remove(name)
        _turn.notify_all()


def _newest_first(sheets: Sheets, images: Images, fmt: str, stamp: Stamp | None) -> None:
    name = sheets.folder.name

    def my_turn() -> None:
        with _turn:
            _turn.wait_for(lambda: _running[-1] == name)

    try:
        write(sheets, images, fmt, stamp, before_sheet=my_turn)
    finally:
        _leave(name)


def write(sheets: Sheets, images: Images, fmt: str, stamp: Stamp | None = None,
          before_sheet: Callable[[], None] | None = None) -> None:
    """Write every missing (or, with `stamp`, changed) sheet of `sheets`, then the folder's `done.json`.
    `before_sheet()` is called before each sheet is looked at (the background job waits there for its turn)."""
    per = sheets.cells * sheets.cells
    unread: list[int] = []
    try:
        for s in range(sheets.sheets):
            if before_sheet is not None:
                before_sheet()
            path = sheets.folder / f"{s}.{sheets.ext}"
            rows = range(s * per, min(sheets.count, (s + 1) * per))
            now = stamp(rows) if stamp is not None else None
            mark = path.with_suffix(".stamp")
            if path.is_file() and (now is None or (mark.is_file() and mark.read_text(encoding="utf-8") == now)):
                continue
            data = thumbnail_sheet(_read(images, rows, unread), side=sheets.side, columns=sheets.cells, fmt=fmt)
            _atomic(path, data)
            if now is not None:
                _atomic(mark, now.encode())
        (sheets.folder / DONE).write_text(json.dumps({"count": sheets.count, "side": sheets.side}),
                                          encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - a disk error, or a stamp or sheet that cannot be made: say so, stop
        with _lock:
            _failed[sheets.folder.name] = f"{type(exc).__name__}: {exc}"
        log.warning("Hover thumbnails stopped in %s: %s", sheets.folder, exc)
    if len(unread) > LOGGED_ROWS:
        log.warning("No hover thumbnail for %d more rows of %s (unreadable images).", len(unread) - LOGGED_ROWS,
                    sheets.folder)


def _atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all (a temporary name per writer, then a rename)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _read(images: Images, rows: range, unread: list[int]) -> list[np.ndarray | None]:
    try:
        out = list(images(rows))
        if len(out) == len(rows):
            return out
        raise ValueError(f"got {len(out)} images for {len(rows)} rows")
    except Exception as exc:  # noqa: BLE001 - one unreadable image must not stop the other thumbnails
        if len(rows) == 1:
            unread.append(rows[0])
            if len(unread) <= LOGGED_ROWS:
                log.warning("No hover thumbnail for row %d: %s", rows[0], exc)
            return [None]
        return [_read(images, range(i, i + 1), unread)[0] for i in rows]


def _served():
    """The never-drawn component whose files are the sheets (declared on each call, so that it is registered with
    the running server even when this module was first imported outside a script run)."""
    path = root()
    path.mkdir(parents=True, exist_ok=True)
    return components.declare_component("vizcore_thumbsheets", path=str(path))
