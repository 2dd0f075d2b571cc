"""The `vizcore` command: help with examples, models listing, attention PNG/NPY, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vizcore.cli import main


def _help(command: str | None = None) -> str:
    """What `vizcore [command] --help` prints, read from the parser itself: this process's sys.stdout is shared
    with background threads left by earlier tests, and twice in a full run the printed help went elsewhere."""
    import argparse

    from vizcore.cli import parser

    top = parser(command)
    if command is None:
        return top.format_help()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command].format_help()


@pytest.mark.parametrize("command", [None, "models", "train", "attention", "mae", "export-projector", "app"])
def test_every_command_has_help_with_an_example(command):
    assert "Example: vizcore" in _help(command)


def test_help_exits_cleanly(capfd):
    with pytest.raises(SystemExit) as e:
        main(["attention", "--help"])
    assert e.value.code == 0


def test_every_registered_command_has_help_with_an_example():
    """Commands added later (download, inside, embed, project, ...) are covered without editing a list."""
    import argparse

    from vizcore.cli import parser

    sub = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {"models", "train", "attention", "mae", "export-projector", "app", "download"} <= set(sub.choices)
    for name in sub.choices:
        assert "Example: vizcore" in _help(name), name


def test_models_lists_bundled_and_timm(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "bundled:tiny_vit" in out and "timm:vit_small_patch16_224.dino" in out


@pytest.mark.parametrize("view", ["rollout", "grad-rollout", "cls", "query"])
def test_attention_writes_png_and_npy(tmp_path, view, capsys):
    from vizcore.data.scenes import sample_scenes

    img = tmp_path / "scene.png"
    sample_scenes()[0][1].save(img)
    out, npy = tmp_path / "map.png", tmp_path / "attn.npy"
    code = main(["attention", str(img), "--view", view, "--row", "3", "--col", "4", "--out", str(out),
                 "--npy", str(npy)])
    assert code == 0, capsys.readouterr().err
    png = Image.open(out)
    assert png.size[0] >= 256 and png.mode == "RGB"
    attn = np.load(npy)
    assert attn.ndim == 4 and np.allclose(attn.sum(-1), 1, atol=1e-4)  # (L, H, N, N) rows are distributions


def test_attention_on_a_non_image_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert main(["attention", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "not an image vizcore can read" in err and "Traceback" not in err


def test_query_outside_grid_is_a_clear_error(tmp_path, capsys):
    from vizcore.data.scenes import sample_scenes

    img = tmp_path / "scene.png"
    sample_scenes()[0][1].save(img)
    assert main(["attention", str(img), "--view", "query", "--row", "99", "--out", str(tmp_path / "x.png")]) == 2
    assert "outside" in capsys.readouterr().err


@pytest.mark.parametrize("extra", [[], ["--strategy", "focused", "--region", "1,1,5,5", "--keep"],
                                   ["--strategy", "focused", "--region", "rollout"]])
def test_mae_writes_the_four_panels_png(tmp_path, extra, capsys):
    from vizcore.data.scenes import sample_scenes

    img = tmp_path / "scene.png"
    sample_scenes()[0][1].save(img)
    out = tmp_path / "panels.png"
    assert main(["mae", str(img), "--ratio", "0.75", "--seed", "2", "--out", str(out), *extra]) == 0
    png = Image.open(out)
    assert png.width > 3 * png.height  # four panels in a row
    assert "16 of 64 patches kept" in capsys.readouterr().out


def test_mae_with_a_bad_region_is_a_clear_error(tmp_path, capsys):
    from vizcore.data.scenes import sample_scenes

    img = tmp_path / "scene.png"
    sample_scenes()[0][1].save(img)
    assert main(["mae", str(img), "--strategy", "focused", "--region", "a,b"]) == 2
    assert "--region must be" in capsys.readouterr().err


def test_export_projector_writes_projector_files_for_a_labelled_folder(tmp_path, capsys):
    import json

    for label, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (tmp_path / "imgs" / label).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (16, 12), tuple(c + 5 * i for c in colour)).save(tmp_path / "imgs" / label / f"{i}.png")
    (tmp_path / "imgs" / "notes.txt").write_text("not an image")
    out = tmp_path / "proj"
    assert main(["export-projector", "--folder", str(tmp_path / "imgs"), "--model", "pixels", "--projection", "pca",
                 "--out", str(out)]) == 0
    vectors = np.loadtxt(out / "vectors.tsv", delimiter="\t")
    rows = (out / "metadata.tsv").read_text().splitlines()
    assert vectors.shape[0] == 8 and rows[0].split("\t")[:2] == ["label", "id"] and len(rows) == 9
    config = json.loads((out / "projector_config.json").read_text())["embeddings"][0]
    assert config["tensorShape"] == list(vectors.shape) and config["sprite"]["imagePath"] == "sprite.png"
    assert "skipped 1" in capsys.readouterr().out


def test_export_projector_with_an_unknown_source_is_a_clear_error(tmp_path, capsys):
    assert main(["export-projector", "--dataset", "digits", "--model", "nonsense", "--out", str(tmp_path)]) == 2
    assert "vizcore:" in capsys.readouterr().err


def test_attention_draws_the_map_over_the_image_in_grey_unless_asked_for_colour(tmp_path, capsys):
    from vizcore.data.scenes import sample_scenes

    img = tmp_path / "scene.png"
    sample_scenes()[0][1].save(img)
    for base in ("grey", "colour"):
        out = tmp_path / f"{base}.png"
        assert main(["attention", str(img), "--opacity", "0", "--base-image", base, "--out", str(out)]) == 0
        rgb = np.asarray(Image.open(out).convert("RGB"))
        assert (rgb == rgb[..., :1]).all() == (base == "grey"), base  # opacity 0: the image under the map alone
