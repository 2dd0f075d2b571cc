"""Hover thumbnails for maps of any size: sheets of thumbnails on disk, fetched by the map in the browser.

A data set's images are fitted into THUMB_SIDE-px cells and written 256 to a sheet (16 x 16 cells, row-major:
row i of the data set is cell i % 256 of sheet i // 256) to `$VIZCORE_CACHE_DIR/thumbsheets/<folder>/<sheet>.<ext>`
(default `~/.cache/vizcore/thumbsheets`). A background thread writes them in row order, once per data set: a
rerun, another colour or search, or another session reuses the folder, and a restarted server goes on where the
last one stopped. The map's browser code (`ui/pointmap_frontend`) fetches a sheet the first time one of its points
is hovered and keeps the last 64; a sheet not written yet shows the point's text alone until it is.

The folder is served by Streamlit as the files of a component that is never drawn (`declare_component(path=...)`),
so nothing but Streamlit's own server answers: anyone who can open the app can read the thumbnails of a data set
whose key they know (a bundled name, or an upload's sha256). Delete the folder to free the disk (about 20 MB per
100,000 grey 28-px digits, about 0.5 GB per million photos at 32 px).

    sheets = thumbsheets.start("digits", len(images), lambda rows: [as_uint8(images[i]) for i in rows], side=8,
                               fmt="png")
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
INLINE_MAX = 4_096           # up to this many thumbnails are written before `start` returns (tens of ms)
VERSION = 1                  # bump when a sheet's layout changes: old folders are then ignored
DONE = "done.json"
EXT = {"png": "png", "jpeg": "jpg"}

log = logging.getLogger(__name__)
_lock = threading.Lock()
_jobs: dict[str, threading.Thread] = {}


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

    def ready(self) -> int:
        """Sheets written so far (all of them once the job is done)."""
        if (self.folder / DONE).is_file():
            return self.sheets
        return sum(1 for f in os.scandir(self.folder) if f.name.endswith("." + self.ext))

    def args(self) -> dict:
        """What the browser needs, as the map component's `thumbs` argument."""
        return {"url": self.url, "ext": self.ext, "side": self.side, "cells": self.cells, "count": self.count}


Images = Callable[[range], Sequence[np.ndarray | None]]


def start(key: str, count: int, images: Images, *, side: int, fmt: str) -> Sheets:
    """The sheets of `count` thumbnails; `images(rows)` gives those rows (a range of at most 256) as uint8
    (h, w, 3) arrays, None where a row has no image (a white cell).

    Up to INLINE_MAX thumbnails are written before returning. Otherwise it returns at once and, unless the folder
    for (`key`, `count`, `side`, `fmt`) is complete or being written, a daemon thread writes the missing sheets in
    row order. Each sheet is written atomically: whole or absent. When `images` raises, the sheet's rows are read
    one at a time and a row that still raises is a white cell (logged); a disk error stops the job (logged) and the
    map shows text for the rest.

    Raises:
        ValueError: count < 1, side < 1, or fmt not "png" / "jpeg".
    """
    if count < 1 or side < 1 or fmt not in EXT:
        raise ValueError(f"thumbnail sheets need count, side >= 1 and fmt 'png' or 'jpeg'; got {count}, {side}, "
                         f"{fmt!r}.")
    name = hashlib.sha256(json.dumps([VERSION, key, count, side, fmt]).encode()).hexdigest()[:32]
    folder = root() / name
    folder.mkdir(parents=True, exist_ok=True)
    sheets = Sheets(f"../{_served().name}/{name}/", EXT[fmt], side, CELLS, count, folder)
    if count <= INLINE_MAX and not (folder / DONE).is_file():
        write(sheets, images, fmt)
    with _lock:
        job = _jobs.get(name)
        if not (folder / DONE).is_file() and (job is None or not job.is_alive()):
            job = threading.Thread(target=write, args=(sheets, images, fmt), name=f"vizcore-thumbs-{name[:8]}",
                                   daemon=True)
            _jobs[name] = job
            job.start()
    return sheets


def write(sheets: Sheets, images: Images, fmt: str) -> None:
    """Write every missing sheet of `sheets`, then the folder's `done.json` (what `start` runs in a thread)."""
    per = sheets.cells * sheets.cells
    try:
        for s in range(sheets.sheets):
            path = sheets.folder / f"{s}.{sheets.ext}"
            if path.is_file():
                continue
            rows = range(s * per, min(sheets.count, (s + 1) * per))
            data = thumbnail_sheet(_read(images, rows), side=sheets.side, columns=sheets.cells, fmt=fmt)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        (sheets.folder / DONE).write_text(json.dumps({"count": sheets.count, "side": sheets.side}), encoding="utf-8")
    except OSError as exc:
        log.warning("Hover thumbnails stopped in %s: %s", sheets.folder, exc)


def _read(images: Images, rows: range) -> list[np.ndarray | None]:
    try:
        out = list(images(rows))
        if len(out) == len(rows):
            return out
        raise ValueError(f"got {len(out)} images for {len(rows)} rows")
    except Exception as exc:  # noqa: BLE001 - one unreadable image must not stop the other thumbnails
        if len(rows) == 1:
            log.warning("No hover thumbnail for row %d: %s", rows[0], exc)
            return [None]
        return [_read(images, range(i, i + 1))[0] for i in rows]


def _served():
    """The never-drawn component whose files are the sheets (declared on each call, so that it is registered with
    the running server even when this module was first imported outside a script run)."""
    path = root()
    path.mkdir(parents=True, exist_ok=True)
    return components.declare_component("vizcore_thumbsheets", path=str(path))
