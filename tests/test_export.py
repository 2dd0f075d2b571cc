"""vizcore.export: files read back with the Embedding Projector's own parsing rules (vz_projector/data-provider.ts),
ported in `vizcore.io.tfprojector` and replayed here over hostile data."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from vizcore.analysis.projection import Projection
from vizcore.errors import InputError
from vizcore.export import projector as export
from vizcore.io import tfprojector

RNG = np.random.default_rng(0)
HOSTILE = ["tab\there", "new\nline", "crlf\r\nend", "", None, float("nan"), "猫 🐱 ünïcødé", "x" * 10_000,
           " \t ", "para\u2028sep", np.float32("nan"), pd.NA, "\ufeff", "\u00a0", "\u3000\u2007", "\ufeffbom",
           "nel\x85", "\x1c", " padded ", "1e-01"]
SANITISED = ["tab here", "new line", "crlf  end", "<empty>", "<empty>", "<empty>", "猫 🐱 ünïcødé", "x" * 10_000,
             "<empty>", "para sep", "<empty>", "<empty>", "<empty>", "<empty>", "<empty>", "\ufeffbom",
             "nel ", "<empty>", " padded ", "1e-01"]
N = len(HOSTILE)
VECTORS = RNG.standard_normal((N, 5)).astype(np.float32)


def parse_metadata(data: bytes) -> tuple[list[str], list[list[str]]]:
    """The projector's parseMetadata (chunked decoding, JS trim, header iff the first line has a tab), as rows."""
    columns, rows = tfprojector.parse_metadata(data)
    return columns, [[row.get(c) for c in columns] for row in rows]


def coloured_images(n: int, h: int = 6, w: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """n flat-coloured images (n, 3, h, w) in [0, 1] and their colours as uint8 (n, 3), all distinct."""
    colours = np.stack([np.arange(n) * 7 % 256, 255 - np.arange(n) * 11 % 256, np.arange(n) * 29 % 256], 1)
    colours = colours.astype(np.uint8)
    return np.broadcast_to((colours / 255.0)[:, :, None, None], (n, 3, h, w)).copy(), colours


# ---- vectors.tsv --------------------------------------------------------------------------------------------

def test_vectors_tsv_round_trip_no_header_lf(tmp_path):
    X = (RNG.standard_normal((3000, 7)) * 10.0 ** RNG.integers(-8, 8, (3000, 7))).astype(np.float32)
    path = export.write_vectors_tsv(tmp_path / "v.tsv", X)
    data = path.read_bytes()
    assert b"\r" not in data and data.endswith(b"\n") and data.count(b"\n") == 3000
    assert all(len(line.split(b"\t")) == 7 for line in data.splitlines())
    back = np.loadtxt(path, delimiter="\t", dtype=np.float64)  # no header: every line is numeric
    np.testing.assert_array_equal(back.astype(np.float32), X)
    parsed, labels = tfprojector.parse_tensors(data)  # the projector's own reading: bit for bit
    assert labels is None and parsed.dtype == np.float32
    np.testing.assert_array_equal(parsed.view(np.int32), X.view(np.int32))


def test_vector_formatting_of_edge_values(tmp_path):
    edge = np.array([[0.0, -0.0, 1.0, -1.5, 0.1, 1e-45, -3.4028235e38, 1.1754942e-38, 9.9999995, 999999.5,
                      1e7, 123456789.0, 2.5e-7]], np.float32)
    text = export.write_vectors_tsv(tmp_path / "e.tsv", edge).read_text()
    assert text.split("\t")[:5] == ["0", "-0", "1", "-1.5", "1.00000001e-01"]  # float32(0.1), 9 digits
    back = np.array(text.split("\t"), float).astype(np.float32)
    np.testing.assert_array_equal(back.view(np.int32), edge[0].view(np.int32))  # bit for bit, -0 included


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])  # 1e39 overflows float32
def test_non_finite_vectors_refused(tmp_path, bad):
    X = VECTORS.astype(np.float64)
    X[3, 2] = bad
    with pytest.raises(InputError, match="NaN or infinite"):
        export.tf_projector(tmp_path, X, None)


# ---- metadata.tsv -------------------------------------------------------------------------------------------

def test_single_column_metadata_has_no_header_and_is_sanitised(tmp_path):
    paths = export.tf_projector(tmp_path, VECTORS, HOSTILE)
    data = paths["metadata"].read_bytes()
    assert b"\r" not in data and data.endswith(b"\n")
    header, rows = parse_metadata(data)
    assert header == ["label"] and [r[0] for r in rows] == SANITISED
    assert len(data.decode("utf-8").splitlines()) == len(VECTORS)  # no stray separators for any reader


def test_multi_column_metadata_has_exactly_one_header(tmp_path):
    meta = {"name": HOSTILE, "class\tid": list(range(N)), "score": np.linspace(0, 1, N)}
    data = export.tf_projector(tmp_path, VECTORS, meta)["metadata"].read_bytes()
    header, rows = parse_metadata(data)
    assert header == ["name", "class id", "score"]
    assert len(rows) == len(VECTORS) and all(len(r) == 3 for r in rows)
    assert [r[0] for r in rows] == SANITISED and rows[4][1] == "4"
    frame = pd.DataFrame(meta)
    assert parse_metadata(export.tf_projector(tmp_path, VECTORS, frame)["metadata"].read_bytes()) == (header, rows)


@pytest.mark.parametrize("meta", [["a"] * (N - 1), {"a": ["x"] * N, "b": ["y"] * (N + 1)},
                                  pd.DataFrame({"a": range(3)})])
def test_metadata_row_count_must_match(tmp_path, meta):
    with pytest.raises(InputError, match="one (value|row) per vector"):
        export.tf_projector(tmp_path, VECTORS, meta)


# ---- sprite.png ---------------------------------------------------------------------------------------------

def check_sprite(image: Image.Image, dim, colours, n):
    w, h = dim
    side = int(np.ceil(np.sqrt(n)))
    assert image.mode == "RGB" and image.size == (side * w, side * h) and max(image.size) <= 8192
    px = np.asarray(image)
    for i in range(side * side):
        r, c = divmod(i, side)
        centre = px[r * h + h // 2, c * w + w // 2]
        np.testing.assert_array_equal(centre, colours[i] if i < n else [0, 0, 0])  # unused cells black


def test_sprite_grid_places_image_i_at_row_i_div_side(tmp_path):
    images, colours = coloured_images(N)
    paths = export.tf_projector(tmp_path, VECTORS, None, sprite_images=images)
    config = json.loads(paths["config"].read_text())["embeddings"][0]
    assert config["sprite"] == {"imagePath": "sprite.png", "singleImageDim": [8, 6]}
    check_sprite(Image.open(paths["sprite"]), (8, 6), colours, N)


def test_sprite_shrinks_cells_to_fit_the_limit(monkeypatch):
    monkeypatch.setattr(export, "MAX_SPRITE_PX", 64)
    images, colours = coloured_images(10, h=32, w=32)  # 4 x 4 cells of 32 px would be 128 px
    image, dim = export.sprite(images)
    assert dim == (16, 16) and image.size == (64, 64)
    check_sprite(image, dim, colours, 10)


def test_sprite_greyscale_and_pil_inputs():
    grey = np.linspace(0, 1, 4)[:, None, None, None] * np.ones((4, 1, 5, 5))
    image, dim = export.sprite(grey)
    px = np.asarray(image)
    assert dim == (5, 5) and (px[..., 0] == px[..., 1]).all() and (px[..., 1] == px[..., 2]).all()
    assert px[5 + 2, 5 + 2, 0] == 255  # image 3 (white) at row 1, col 1
    images, colours = coloured_images(5, h=10, w=10)
    pil = [Image.fromarray(np.full((10, 10, 3), c, np.uint8)) for c in colours]
    image, dim = export.sprite(pil)
    check_sprite(image, dim, colours, 5)


def test_sprite_count_must_match(tmp_path):
    with pytest.raises(InputError, match="one image per vector"):
        export.tf_projector(tmp_path, VECTORS, None, sprite_images=coloured_images(N - 1)[0])


# ---- config, bookmarks, zip ---------------------------------------------------------------------------------

def test_config_keys_and_files(tmp_path):
    paths = export.tf_projector(tmp_path, VECTORS, ["a"] * N, tensor_name="dino")
    config = json.loads(paths["config"].read_text())
    assert list(config) == ["embeddings"] and len(config["embeddings"]) == 1
    entry = config["embeddings"][0]
    assert entry == {"tensorName": "dino", "tensorShape": [N, 5], "tensorPath": "vectors.tsv",
                     "metadataPath": "metadata.tsv"}  # no sprite, no bookmarks unless given
    for rel in ("vectors.tsv", "metadata.tsv"):
        assert (tmp_path / rel).is_file()
    assert 'tensor_path: "vectors.tsv"' in paths["config_pbtxt"].read_text()


@pytest.mark.parametrize("dims", [2, 3])
def test_bookmark_carries_the_projection_in_vector_order(tmp_path, dims):
    coords = RNG.standard_normal((N, dims)).astype(np.float32)
    proj = Projection(coords, "umap", {}, 1.0)
    paths = export.tf_projector(tmp_path, VECTORS, {"a": range(N), "b": range(N)}, projection=proj)
    entry = json.loads(paths["config"].read_text())["embeddings"][0]
    assert entry["bookmarksPath"] == "bookmarks.txt"
    states = json.loads(paths["bookmarks"].read_text())
    assert isinstance(states, list) and len(states) == 1
    state = states[0]
    assert state["selectedProjection"] == "tsne" and state["tSNEIteration"] > 0
    assert state["tSNEis3d"] is (dims == 3) and state["dataSetDimensions"] == [N, 5]
    assert state["filteredPoints"] is None and state["selectedPoints"] == [] and "UMAP" in state["label"]
    assert state["selectedLabelOption"] == "a" and len(state["pcaComponentDimensions"]) == dims
    for key in ("tSNEPerplexity", "tSNELearningRate", "umapIs3d", "customXLeftText", "cameraDef"):
        assert key in state
    keys = [f"tsne-{j}" for j in range(dims)]
    assert all(sorted(p) == keys for p in state["projections"])
    got = np.array([[p[k] for k in keys] for p in state["projections"]])
    np.testing.assert_allclose(got, coords, atol=1e-6)
    assert 'bookmarks_path: "bookmarks.txt"' in paths["config_pbtxt"].read_text()


def test_bookmark_shape_must_match(tmp_path):
    with pytest.raises(InputError, match="projection must be"):
        export.tf_projector(tmp_path, VECTORS, None, projection=np.zeros((N - 1, 2)))
    with pytest.raises(InputError, match="projection must be"):
        export.tf_projector(tmp_path, VECTORS, None, projection=np.zeros((N, 4)))


def test_write_zip_holds_the_same_files(tmp_path):
    images, _ = coloured_images(N)
    coords = RNG.standard_normal((N, 2))
    blob = export.write_zip(VECTORS, HOSTILE, sprite_images=images, projection=coords)
    paths = export.tf_projector(tmp_path, VECTORS, HOSTILE, sprite_images=images, projection=coords)
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        assert sorted(zf.namelist()) == sorted(p.name for p in paths.values())
        for p in paths.values():
            assert zf.read(p.name) == p.read_bytes()


# ---- coordinate tables --------------------------------------------------------------------------------------

def test_coordinates_table_csv_parquet_and_selection():
    coords = RNG.standard_normal((6, 3)).astype(np.float32)
    meta = {"label": ["a", "b", None, "d", "e", "f"], "x": [1, "two", 3, None, 5, 6]}  # clash + mixed types
    table = export.coordinates_table(coords, meta, ids=[f"img{i}" for i in range(6)])
    assert list(table.columns) == ["id", "x", "y", "z", "label", "meta_x"]
    np.testing.assert_array_equal(table[["x", "y", "z"]].to_numpy(), coords)
    csv = pd.read_csv(io.BytesIO(export.to_csv(table, rows=[1, 4])))
    assert list(csv["id"]) == ["img1", "img4"] and list(csv["label"]) == ["b", "e"]
    mask = np.array([True, False, True, False, False, False])
    parquet = pd.read_parquet(io.BytesIO(export.to_parquet(table, rows=mask)))
    assert list(parquet["id"]) == ["img0", "img2"] and parquet["label"].isna().tolist() == [False, True]
    assert list(parquet["meta_x"]) == ["1", "3"]
    assert b"\r" not in export.to_csv(table)


def test_coordinates_table_errors():
    with pytest.raises(InputError):
        export.coordinates_table(np.zeros((4, 5)))
    with pytest.raises(InputError, match="one id per point"):
        export.coordinates_table(np.zeros((4, 2)), ids=[1, 2])
    table = export.coordinates_table(np.zeros((4, 2)))
    with pytest.raises(InputError, match="outside"):
        export.to_csv(table, rows=[7])


# ---- the projector's parsing rules, replayed over hostile data (issue 13 §8) --------------------------------

def test_js_trim_whitespace_set_is_javascripts():
    js = set(tfprojector.JS_WHITESPACE)
    assert {"\ufeff", "\u00a0", "\u3000", "\u2028", "\u2029", "\u202f", "\t", "\v", "\f"} <= js
    assert not {"\x85", "\x1c", "\x1d", "\x1e", "\x1f", "\u180e", "\u200b"} & js  # Python's strip() differs here
    assert tfprojector.js_trim("\ufeff a \u3000") == "a"


@pytest.mark.parametrize("text, value", [("", 0.0), (" ", 0.0), ("1e3", 1000.0), (".5", 0.5), ("5.", 5.0),
                                         ("+2", 2.0), ("0x1A", 26.0), ("0b11", 3.0), ("Infinity", np.inf),
                                         ("-Infinity", -np.inf), ("\ufeff7\u00a0", 7.0)])
def test_js_number(text, value):
    assert tfprojector.js_number(text) == value


@pytest.mark.parametrize("text", ["nan", "inf", "1_000", "-0x10", "1,5", "e5", "--1", "0x", "infinity"])
def test_js_number_nan(text):
    assert np.isnan(tfprojector.js_number(text))


def test_a_label_that_is_only_a_bom_does_not_shift_the_rest(tmp_path):
    labels = ["cat", "\ufeff", "dog", "\u00a0", "bird"]
    data = export.tf_projector(tmp_path, VECTORS[:5], labels)["metadata"].read_bytes()
    header, rows = parse_metadata(data)
    assert header == ["label"] and [r[0] for r in rows] == ["cat", "<empty>", "dog", "<empty>", "bird"]


def test_duplicate_and_proto_column_names_stay_readable(tmp_path):
    meta = pd.DataFrame([["a", "b", "c", "d"]] * N, columns=["x", "x", "__proto__", ""])
    data = export.tf_projector(tmp_path, VECTORS, meta)["metadata"].read_bytes()
    columns, rows = tfprojector.parse_metadata(data)
    assert columns == ["x", "x (2)", "__proto__ (column)", "<empty>"]
    assert all(list(r.values()) == ["a", "b", "c", "d"] for r in rows) and len(rows) == N


def test_chunk_boundaries_never_split_a_character_or_start_with_a_bom(tmp_path):
    """The projector decodes 1,000,000-byte chunks separately: multi-byte characters and U+FEFF at a boundary."""
    rng = np.random.default_rng(3)
    alphabet = np.array(list("ab猫🐱ü\ufeff "))
    c = tfprojector.CHUNK_BYTES
    labels = ["x" * (c - 2) + "猫z", "y" * (c - 3) + "\ufeffq"]  # unpadded: 猫 across byte c, U+FEFF at byte 2c
    labels += ["".join(rng.choice(alphabet, rng.integers(1, 40))) + "z" for _ in range(40_000)]
    n = len(labels)
    path = export.write_metadata_tsv(tmp_path / "m.tsv", labels, n)
    data = path.read_bytes()
    assert len(data) > 3 * c
    for cut in range(tfprojector.CHUNK_BYTES, len(data), tfprojector.CHUNK_BYTES):
        assert data[cut] & 0xC0 != 0x80 and not data.startswith(b"\xef\xbb\xbf", cut)
    _, rows = tfprojector.parse_metadata(data)
    expected = [export._cell(v) for v in labels]
    assert [r["label"] for r in rows] == expected


def test_stream_parse_end_of_file_rules():
    assert tfprojector.stream_lines(b"a\nb") == ["a", "b"]
    assert tfprojector.stream_lines(b"a\r\n\n b\n") == ["a\r", "", " b"]  # CR stays, blank lines are the caller's
    assert tfprojector.stream_lines(b"\xef\xbb\xbfa\n") == ["a"]  # BOM at a chunk start dropped
    with pytest.raises(InputError, match="empty"):
        tfprojector.stream_lines(b"")
    with pytest.raises(InputError, match="never finish"):
        tfprojector.stream_lines(b"x" * (tfprojector.CHUNK_BYTES + 10))  # the projector would hang


def test_vectors_parse_label_column_ragged_and_one_dimension():
    X, labels = tfprojector.parse_tensors(b"cat\t1\t2\ndog\t3\t4\n\n  \n")
    assert labels == ["cat", "dog"] and X.tolist() == [[1, 2], [3, 4]]
    with pytest.raises(InputError, match="same number"):
        tfprojector.parse_tensors(b"1\t2\n1\t2\t3\t4\n")
    with pytest.raises(InputError, match="at least 2"):
        tfprojector.parse_tensors(b"1\n2\n")
    with pytest.raises(InputError, match="at least 2 dimensions"):
        export.tf_projector("/tmp/never-written", np.ones((3, 1)), None)


def test_every_export_reads_back_identically(tmp_path):
    images, _ = coloured_images(N)
    meta = {"label": HOSTILE, "score": np.linspace(-1, 1, N).astype(np.float32), "id": [f"r{i}" for i in range(N)]}
    paths = export.tf_projector(tmp_path, VECTORS, meta, sprite_images=images, projection=np.ones((N, 2)))
    X, labels = tfprojector.parse_tensors(paths["vectors"].read_bytes())
    assert labels is None
    np.testing.assert_array_equal(X.view(np.int32), VECTORS.view(np.int32))
    columns, rows = tfprojector.parse_metadata(paths["metadata"].read_bytes())
    assert columns == ["label", "score", "id"] and len(rows) == N
    assert [r["label"] for r in rows] == SANITISED and [r["id"] for r in rows] == meta["id"]
    assert [np.float32(r["score"]) for r in rows] == list(meta["score"])
    sprite = Image.open(paths["sprite"])
    assert max(sprite.size) <= tfprojector.MAX_SPRITE_PX


def test_selection_bookmark_selects_points(tmp_path):
    coords = RNG.standard_normal((N, 2)).astype(np.float32)
    state = json.loads(export.selection_bookmark(Projection(coords, "tsne"), (N, 5), [7, 2, 2],
                                                 metadata={"a": range(N), "b": range(N)}))[0]
    assert state["selectedPoints"] == [2, 7] and state["dataSetDimensions"] == [N, 5]
    assert state["selectedLabelOption"] == "a" and len(state["projections"]) == N
    paths = export.tf_projector(tmp_path, VECTORS, None, projection=coords, selected=[1])
    assert json.loads(paths["bookmarks"].read_text())[0]["selectedPoints"] == [1]
    with pytest.raises(InputError, match="outside"):
        export.selection_bookmark(coords, (N, 5), [N])
