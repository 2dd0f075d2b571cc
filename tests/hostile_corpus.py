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

import sys
import time
from pathlib import Path

from tests.hostile_archives import folder_cases, image_cases, zip_cases
from tests.hostile_cases import ERROR, FROM_FOLDER, FROM_ZIP, LOAD_IMAGE, LOAD_MODEL, OK, Case
from tests.hostile_checkpoints import checkpoint_cases, spec_cases

__all__ = ["ERROR", "FROM_FOLDER", "FROM_ZIP", "LOAD_IMAGE", "LOAD_MODEL", "OK", "Case", "build", "consume",
           "run"]


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
    cases = image_cases(out / "images") + zip_cases(out / "zips") + folder_cases(out / "folders")
    cases += checkpoint_cases(out / "checkpoints") + spec_cases()
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


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
