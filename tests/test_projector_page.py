"""AppTests of the Embedding projector page: defaults, every tab, UMAP in 3-D, impossible combinations, hostile zips."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.apptest
TIMEOUT = 180
APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/projector.py"


def _page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE)
    at.run()
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def _spec(at: AppTest, i: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _tab(at: AppTest, label: str) -> AppTest:
    at.session_state["pj_tab"] = label
    return at.run()


def test_defaults_draw_a_webgl_map_with_quality_metrics_and_every_tab():
    at = _page()
    _ok(at)
    assert at.title[0].value == "Embedding projector"
    spec = _spec(at)
    traces = [t for t in spec["data"] if t["type"] == "scattergl"]
    assert len(traces) == 10  # digits: one trace per class, each point's global row in customdata
    assert sum(len(t["customdata"]["bdata"]) > 0 for t in traces) == 10
    assert spec["layout"]["xaxis"]["title"]["text"].startswith("PC 1 (")  # explained variance on the axis
    metrics = _metrics(at)
    for label in ("kNN accuracy (k=20)", "Linear probe", "Trustworthiness (2-D)", "PCA variance shown"):
        assert label in metrics
    assert float(metrics["kNN accuracy (k=20)"].rstrip("%")) > 90  # digits pixels: ~97%

    at.toggle(key="pj_contours").set_value(True).run()
    _ok(at)
    assert "histogram2dcontour" in {t["type"] for t in _spec(at)["data"]}

    at.text_input(key="pj_search").input("3").run()  # search -> highlighted matches, gallery of them
    _ok(at)
    assert any("matching the search" in m.value for m in at.markdown)
    assert len(at.image) >= 1

    _tab(at, "Nearest neighbours")
    _ok(at)
    at.number_input(key="pj_query").set_value(5).run()
    _ok(at)
    assert any("nearest neighbours** of `digits/0005`" in m.value for m in at.markdown)

    _tab(at, "Compare sources")
    _ok(at)
    assert len(at.get("plotly_chart")) == 4  # main map, two compared maps, quality bars
    assert len(at.metric) >= 4 + 6

    _tab(at, "Export")
    _ok(at)
    assert len(at.get("download_button")) == 5  # zip, CSV + Parquet of all points and of the selection
    assert any("projector.tensorflow.org" in m.value for m in at.markdown)


def test_umap_in_3d_draws_a_3d_scatter():
    at = _page()
    at.selectbox(key="pj_data").set_value("faces")  # 200 images: the fit itself is quick
    at.radio(key="pj_method").set_value("umap")
    at.radio(key="pj_dims").set_value(3)
    at.run()
    _ok(at)
    assert {t["type"] for t in _spec(at)["data"]} == {"scatter3d"}
    assert "Trustworthiness (3-D)" in _metrics(at)
    at.slider(key="pj_nn").set_value(30).run()
    _ok(at)


def test_combinations_that_cannot_work_get_inline_messages():
    at = _page()
    at.selectbox(key="pj_source").set_value("bundled:ae_2d")  # a 2-d code cannot make a 3-D PCA map
    at.radio(key="pj_dims").set_value(3)
    at.run()
    assert not at.exception
    assert any("needs at least 3 features" in e.value for e in at.error)
    at.radio(key="pj_dims").set_value(2).run()
    _ok(at)
    assert not any("was trained on" in c.value for c in at.caption)  # digits model on digits: no note

    at.selectbox(key="pj_data").set_value("scenes").run()  # a digits model on colour scenes: a note, not a crash
    _ok(at)
    assert any("was trained on digits" in c.value for c in at.caption)

    at.selectbox(key="pj_source").set_value("timm:vit_small_patch16_224.dino").run()  # weights not here
    assert not at.exception
    if at.error:  # (unless this machine has them cached)
        assert any("random weights" in e.value for e in at.error)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 16), colour).save(buf, "PNG")
    return buf.getvalue()


def test_hostile_zips_get_inline_messages_and_a_good_zip_works():
    at = _page()
    at.selectbox(key="pj_data").set_value("upload").run()
    _ok(at)
    assert any("Upload a zip" in i.value for i in at.info)

    at.file_uploader(key="pj_zip").set_value(("photos.zip", b"this is not a zip archive", "application/zip")).run()
    assert not at.exception
    assert ["not a zip archive" in e.value and "photos.zip" in e.value for e in at.error] == [True]

    at.file_uploader(key="pj_zip").set_value(("notes.zip", _zip({"a.txt": b"hi", "b/c.csv": b"x"}),
                                              "application/zip")).run()
    assert not at.exception
    assert ["There are no images" in e.value for e in at.error] == [True]

    files = {f"{cls}/{i}.png": _png(rgb) for cls, rgb in (("red", (220, 30, 30)), ("blue", (30, 30, 220)))
             for i in range(6)} | {"red/readme.txt": b"not an image"}
    at.file_uploader(key="pj_zip").set_value(("good.zip", _zip(files), "application/zip")).run()
    _ok(at)
    assert any("Loaded 12 images in 2 classes; skipped 1" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 1
    probe = [b for b in at.button if b.label.startswith("Linear probe (12,288-d")]  # wide features: on request
    assert len(probe) == 1 and "Linear probe" not in _metrics(at)
    probe[0].click().run()
    _ok(at)
    assert "Linear probe" in _metrics(at)

    at.selectbox(key="pj_data").set_value("digits").run()  # the session keeps working
    _ok(at)
    assert len(at.get("plotly_chart")) == 1
