"""The hostile corpus's vocabulary: a `Case`, its entry points and outcomes (see `tests.hostile_corpus`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

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


def write_file(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
