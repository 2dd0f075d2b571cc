"""AppTests of the Embedding projector page: defaults, every tab, UMAP in 3-D, impossible combinations, hostile zips."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
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


def _maps(at: AppTest) -> list[dict]:
    """The 2-D point maps on the page: each one's JSON arguments plus its binary ones as arrays."""
    out = []
    for element in at.get("component_instance"):
        proto = element.proto
        if not proto.component_name.endswith("vizcore_pointmap"):
            continue
        args = json.loads(proto.json_args)
        raw = {a.key: a.bytes for a in proto.special_args if a.WhichOneof("value") == "bytes"}
        args["xy"] = np.frombuffer(raw["xy"], np.float32).reshape(-1, 2)
        args["rgba"] = np.frombuffer(raw["rgba"], np.uint8).reshape(-1, 4)
        args["codes"] = np.frombuffer(raw["codes"], np.uint16) if "codes" in raw else None
        args["matches"] = np.frombuffer(raw["matches"], np.uint32) if "matches" in raw else None
        args["hover"] = raw["hover"].decode().split("\n") if "hover" in raw else None
        out.append(args)
    return out


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _tab(at: AppTest, label: str) -> AppTest:
    at.session_state["pj_tab"] = label
    return at.run()


def test_defaults_draw_a_webgl_map_with_quality_metrics_and_every_tab():
    at = _page()
    _ok(at)
    assert at.title[0].value == "Embedding projector"
    (m,) = _maps(at)
    assert m["n"] == 1797 and m["xy"].shape == (1797, 2) and m["rgba"].shape == (1797, 4)  # every point, binary
    assert sorted(int(c) for c in np.unique(m["codes"])) == list(range(10))  # digits: one legend entry per class
    assert [item["name"] for item in m["legend"]["items"]] == [str(k) for k in range(10)]
    assert m["hover"][5] == "digits/0005 · label 5"  # hover text for every point
    thumbs = m["thumbs"]  # and a thumbnail: sheets of 256 8-px digits written in the background (ui.thumbsheets)
    assert (thumbs["count"], thumbs["side"], thumbs["cells"], thumbs["ext"]) == (1797, 8, 16, "png")
    assert m["axis_titles"][0].startswith("PC 1 (")  # explained variance on the axis
    metrics = _metrics(at)
    for label in ("kNN accuracy (k=20)", "Linear probe", "Trustworthiness (2-D)", "PCA variance shown"):
        assert label in metrics
    assert float(metrics["kNN accuracy (k=20)"].rstrip("%")) > 90  # digits pixels: ~97%

    at.toggle(key="pj_contours").set_value(True).run()
    _ok(at)
    assert len(_maps(at)[0]["contours"]) >= 8  # density lines, in map coordinates

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
    assert len(_maps(at)) == 3  # the main map and the two compared maps
    assert len(at.get("plotly_chart")) >= 1  # the quality bars
    assert len(at.metric) >= 4 + 6

    _tab(at, "Export")
    _ok(at)
    assert len(at.get("download_button")) == 6  # zip, selection bookmark, CSV + Parquet of all points and selection
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
    assert len(_maps(at)) == 1
    probe = [b for b in at.button if b.label.startswith("Linear probe (12,288-d")]  # wide features: on request
    assert len(probe) == 1 and "Linear probe" not in _metrics(at)
    probe[0].click().run()
    _ok(at)
    assert "Linear probe" in _metrics(at)

    at.selectbox(key="pj_data").set_value("digits").run()  # the session keeps working
    _ok(at)
    assert len(_maps(at)) == 1


def _vectors_dir(tmp_path, n: int = 300) -> Path:
    """A `vizcore embed`-style folder: one shard (row, id, label, thumbnail, vector) and a map.parquet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    X = (rng.standard_normal((3, 16)) * 8)[labels] + rng.standard_normal((n, 16))
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 40, 40)).save(buf, "PNG")
    out = tmp_path / "run"
    out.mkdir()
    pq.write_table(pa.table({"row": np.arange(n), "id": [f"img{i}" for i in range(n)],
                             "label": [f"class {k}" for k in labels], "thumbnail": [buf.getvalue()] * n,
                             "vector": [list(r) for r in X.astype(np.float32)]}), out / "part-000000000.parquet")
    pq.write_table(pa.table({"id": [f"img{i}" for i in range(n)], "x": X[:, 0], "y": X[:, 1]}), out / "map.parquet")
    return out


def test_own_vectors_open_from_a_path_with_their_stored_map(tmp_path):
    at = _page()
    at.selectbox(key="pj_data").set_value("vectors").run()
    _ok(at)
    assert any("Upload vectors" in i.value for i in at.info)
    at.text_input(key="pj_vec_path").input(str(_vectors_dir(tmp_path))).run()
    _ok(at)
    assert any("300 vectors" in m.value for m in at.markdown)
    assert "stored" in at.radio(key="pj_method").options or "stored map" in at.radio(key="pj_method").options
    at.radio(key="pj_method").set_value("stored").run()
    _ok(at)
    assert any("stored map" in m.value for m in at.markdown)
    assert _maps(at)[0]["thumbs"]  # hover thumbnails from the Parquet's thumbnail column
    assert "kNN accuracy (k=20)" in _metrics(at)
    at.text_input(key="pj_search").input("class").run()  # a substring: all 300 match
    _ok(at)
    assert len(at.image) >= 1  # thumbnails decoded from the Parquet's bytes column
    at.selectbox(key="pj_filter_col").set_value("label").run()
    at.multiselect(key="pj_filter:label").set_value(["class 1"]).run()
    _ok(at)
    assert any(m.value.startswith("**100 images matching the search with label in class 1") for m in at.markdown)
    _tab(at, "Nearest neighbours")
    _ok(at)
    assert any("nearest neighbours** of `img0`" in m.value for m in at.markdown)
    _tab(at, "Export")
    _ok(at)


def test_own_vectors_errors_are_inline(tmp_path):
    import numpy as np

    bad = np.ones((10, 4), np.float32)
    bad[3, 2] = np.nan
    buf = io.BytesIO()
    np.save(buf, bad)
    at = _page()
    at.selectbox(key="pj_data").set_value("vectors").run()
    at.text_input(key="pj_vec_path").input(str(tmp_path / "nothing.npy")).run()
    assert not at.exception and any("no file or folder" in e.value for e in at.error)
    (tmp_path / "bad.npy").write_bytes(buf.getvalue())
    at.text_input(key="pj_vec_path").input(str(tmp_path / "bad.npy")).run()
    assert not at.exception and any("NaN or infinite" in e.value and "row 3" in e.value for e in at.error)


def test_a_large_upload_is_streamed_into_the_disk_store_and_reused(tmp_path, monkeypatch):
    """With the large-zip toggle, above APP_MAX_IMAGES (patched to 8 here) a zip is embedded in batches by the
    `vizcore embed` job into Parquet on disk, shown as vectors with thumbnails; a second session reuses them."""
    from vizcore.ui import projector_state

    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(projector_state, "APP_MAX_IMAGES", 8)
    files = {f"{cls}/{i}.png": _png(rgb) for cls, rgb in (("red", (220, 30, 30)), ("blue", (30, 30, 220)))
             for i in range(10)}
    blob = _zip(files)
    for session in range(2):
        at = _page()
        at.selectbox(key="pj_data").set_value("upload").run()
        at.toggle(key="pj_stream").set_value(True)
        at.file_uploader(key="pj_zip").set_value(("big.zip", blob, "application/zip")).run()
        if session == 0:  # nothing is embedded until asked: the default source (pixels) is not a choice yet
            assert [b.label for b in at.button] == ["Embed the 20 images with Raw pixels"]
            assert any("20 images in big.zip" in i.value for i in at.info)
            assert not (tmp_path / "cache" / "embeddings").exists() or not any(
                (tmp_path / "cache" / "embeddings").rglob("part-*.parquet"))
        at.selectbox(key="pj_source").set_value("bundled:tiny_vit").run()
        if session == 0:
            at.button(key="pj_embed_go").click().run()
        _ok(at)  # the second session opens the stored vectors without asking
        assert any("20 vectors with images" in m.value for m in at.markdown)
        shards = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache" / "embeddings").rglob("part-*.parquet")}
        assert len(shards) == 1  # one store: the tiny ViT's (the pixels were never embedded)
        if session == 0:
            first = shards
        else:
            assert shards == first  # reused, not recomputed


def test_a_large_upload_recovers_from_a_broken_or_foreign_store_and_offers_no_pca(tmp_path, monkeypatch):
    """Found by review: a store whose manifest was cut off, or written for the same bytes under another name, made
    the Embed button fail on every rerun; a finished store was refused for its zip path; PCA (which fits all images
    at once) was offered; merely looking at a source created its folder."""
    import json

    from vizcore.export import embed_job
    from vizcore.ui import cache, projector_state

    monkeypatch.setenv("VIZCORE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(projector_state, "APP_MAX_IMAGES", 8)
    blob = _zip({f"c{i % 2}/{i}.png": _png((20 * i, 30, 200 - 10 * i)) for i in range(10)})

    def session(name: str) -> AppTest:  # as after a server restart: only the disk store is left
        cache.embedded_upload.clear()
        at = _page()
        at.selectbox(key="pj_data").set_value("upload").run()
        at.toggle(key="pj_stream").set_value(True)
        return at.file_uploader(key="pj_zip").set_value((name, blob, "application/zip")).run()

    at = session("big.zip")
    assert not any("PCA" in str(o) for o in at.selectbox(key="pj_source").options)
    root = tmp_path / "cache" / "embeddings"
    assert not [p for p in root.glob("*") if p.name != "uploads"]  # nothing created by looking
    at.button(key="pj_embed_go").click().run()
    _ok(at)
    (store,) = [p for p in root.glob("*") if p.name != "uploads"]
    (store / "embed.json").write_text("{cut off")
    (store / "part-000000000.parquet").unlink()
    at = session("big.zip")
    at.button(key="pj_embed_go").click().run()  # starts again instead of failing on every rerun
    _ok(at)
    assert any("10 vectors with images" in m.value for m in at.markdown)
    assert json.loads((store / "embed.json").read_text())["rows"] == 10  # written again
    monkeypatch.setattr(embed_job, "SHARD_ROWS", 3)  # a newer version cuts shards differently
    at = session("big (1).zip")  # the same bytes under another name: the same zip on disk, the same store
    assert len(list((root / "uploads").rglob("*.zip"))) == 1
    assert not [b for b in at.button if b.key == "pj_embed_go"]  # finished: opened at once
    _ok(at)
    assert any("10 vectors with images" in m.value for m in at.markdown)
