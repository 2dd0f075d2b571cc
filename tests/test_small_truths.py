"""Issue 13 §7 and §9, the small things: each line the issue quotes, checked where it is produced.

The favicon (tests/browser/test_pages.py), "Trained a AE" (tests/test_app.py), the neighbour captions
(tests/browser/test_projector.py) and the palette's distances (tests/test_figures.py) are tested beside their pages.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_a_progress_bar_counts_from_before_the_work():
    """An embedding that reports once, at its end, showed 27,812,414 step/s: the bar's clock started at that
    report. It starts when the bar is made, before the work."""
    from vizcore.train.loop import tqdm_progress

    out = io.StringIO()
    bar = tqdm_progress(desc="embedding", file=out, mininterval=0)
    time.sleep(0.5)  # the work: 100 items in at least half a second
    bar(100, 100, {})
    rates = [float(r) for r in re.findall(r"(\d+(?:\.\d+)?)\w+/s", out.getvalue())]  # "27812414.00step/s"
    assert rates and max(rates) <= 100 / 0.5 * 1.05, out.getvalue()  # at most 200 a second
    assert "100/100" in out.getvalue()


def test_missing_weights_say_which_flag_gives_random_weights():
    """The CLI said "choose 'random weights'": a switch that exists in the app, not on the command line."""
    from vizcore.models.curated import missing_weights_message

    text = missing_weights_message("timm:vit_small_patch16_224.dino")
    assert "--random-weights" in text and "choose 'random weights'" not in text
    assert "vizcore download timm:vit_small_patch16_224.dino" in text


def test_export_projector_names_every_skipped_file_with_its_reason(tmp_path, capsys):
    """`vizcore export-projector` printed "skipped 2: 2 unreadable image." without names (issue 13 §6)."""
    from vizcore.cli import main

    for label in ("a", "b"):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (16, 12), (40 * i, 90, 200)).save(tmp_path / "imgs" / label / f"{i}.png")
    (tmp_path / "imgs" / "a" / "broken.png").write_bytes(b"not a picture")
    (tmp_path / "imgs" / "b" / "notes.jpg").write_text("my notes, renamed")
    assert main(["export-projector", "--folder", str(tmp_path / "imgs"), "--model", "pixels", "--projection", "pca",
                 "--out", str(tmp_path / "proj")]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"skipped a/broken\.png: .+", printed) and re.search(r"skipped b/notes\.jpg: .+", printed), printed


def test_the_projector_colours_digits_with_the_shared_palette_and_drags_a_box():
    """Digits 2/7 and 1/8 shared a hue (plotly's Safe); dragging panned although the caption said "Drag a box"."""
    from vizcore.figures import projection_scatter
    from vizcore.figures._common import CATEGORICAL

    labels = np.arange(50) % 10
    fig = projection_scatter(np.random.default_rng(0).normal(size=(50, 2)), title="digits", categories=labels,
                             category_names=[str(d) for d in range(10)])
    assert [t.marker.color for t in fig.data] == list(CATEGORICAL[:10])
    assert fig.layout.dragmode == "select"


def _navigation_entries(path: Path) -> int:
    """Entries in the sidebar navigation of an app screenshot (1400 px wide, sidebar open): bands of dark text
    from the first entry (y = 87) down, 34 px apart, until the gap before the sidebar's controls."""
    grey = np.asarray(Image.open(path).convert("L"))[:, 20:280].astype(int)  # (H, 260) the sidebar
    rows = np.flatnonzero((grey < 140).sum(1) > 3)  # rows holding text
    starts = [int(r) for i, r in enumerate(rows) if i == 0 or r - rows[i - 1] > 3]  # first row of each band
    entries = [y for y in starts if 80 <= y <= 95][:1]
    for y in starts:
        if entries and 28 <= y - entries[-1] <= 40:
            entries.append(y)
    return len(entries)


def test_the_readme_shows_a_screenshot_of_every_page_with_every_page_in_its_navigation():
    """The README's screenshots showed a navigation of six pages when the app had eight: every page of the app's
    navigation has its screenshot, on disk, and each screenshot's sidebar lists every page."""
    app = (ROOT / "app.py").read_text(encoding="utf-8")
    titles = re.findall(r'st\.Page\("pages/\w+\.py", title="([^"]+)"', app)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shots = dict(re.findall(r"!\[([^\]]+?) page\]\((assets/screenshots/[\w.]+\.png)\)", readme))
    assert len(titles) >= 9 and sorted(shots) == sorted(titles), (titles, sorted(shots))
    for path in shots.values():
        assert Image.open(ROOT / path).size[0] == 1400, path  # a screenshot of the app at 1400 px
    stale = {path: n for path in shots.values() if (n := _navigation_entries(ROOT / path)) != len(titles)}
    assert not stale, f"navigation entries per screenshot (the app has {len(titles)} pages): {stale}"
