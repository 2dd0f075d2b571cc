"""`vizcore inside IMAGE`: help with an example, one PNG sheet of the steps (random weights labelled in the picture),
the query token chosen by name / patch / index changes the sheet, and bad choices are clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vizcore.cli import main
from vizcore.cli.attention import BAND_COLOUR
from vizcore.cli.inside import query_index
from vizcore.data.scenes import sample_scenes
from vizcore.models.layout import TokenLayout


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    path = tmp_path_factory.mktemp("inside") / "scene.png"
    sample_scenes()[2][1].save(path)
    return path


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as e:
        main(["inside", "--help"])
    assert e.value.code == 0
    assert "Example: vizcore inside" in capsys.readouterr().out


def test_writes_one_sheet_and_the_query_changes_it(scene, tmp_path, capsys):
    sheets = {}
    for query in ("cls", "3,4"):
        out = tmp_path / f"steps-{query.replace(',', '-')}.png"
        code = main(["inside", str(scene), "--model", "bundled:tiny_vit", "--layer", "3", "--head", "1", "--query",
                     query, "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        assert "block 3, head 1" in capsys.readouterr().out
        sheets[query] = np.asarray(Image.open(out).convert("RGB"))
    a, b = sheets.values()
    assert a.shape == b.shape and a.shape[0] > 900 and a.shape[1] > 1400  # 12 panels in a 4 x 3 grid
    assert not np.array_equal(a, b)
    assert tuple(a[2, 2]) != BAND_COLOUR  # trained weights: no random-weights band


def test_seed_preset_is_labelled_random_weights_in_the_picture(scene, tmp_path, capsys):
    out = tmp_path / "seed.png"
    assert main(["inside", str(scene), "--model", "preset:seed_example", "--out", str(out)]) == 0
    assert "random weights" in capsys.readouterr().out
    png = np.asarray(Image.open(out).convert("RGB"))
    assert tuple(png[2, 2]) == BAND_COLOUR  # the red band across the top says RANDOM WEIGHTS


@pytest.mark.parametrize("args, message", [(["--query", "9,9"], "does not exist"),
                                           (["--head", "7"], "Head 7 does not exist"),
                                           (["--layer", "12"], "does not exist")])
def test_bad_choices_are_clear_errors(scene, tmp_path, capsys, args, message):
    assert main(["inside", str(scene), *args, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_query_names_patches_and_indices():
    lay = TokenLayout(2, (3, 4), (8, 8), ("cls", "dist"))
    assert [query_index(q, lay) for q in ("cls", "DIST", "0,0", "2,3", "5")] == [0, 1, 2, 13, 5]
