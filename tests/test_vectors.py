"""vizcore.io.vectors: bring your own vectors (.npy, Parquet file / folder, TF Projector TSV, CSV) and its limits."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from vizcore.errors import InputError, VizcoreError
from vizcore.export import projector as export
from vizcore.io import vectors as V

RNG = np.random.default_rng(0)
X = RNG.standard_normal((50, 6)).astype(np.float32)
LABELS = [f"class {i % 3}" for i in range(50)]


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (255, 0, 0)).save(buf, "PNG")
    return buf.getvalue()


def test_npy_with_metadata_csv(tmp_path):
    np.save(tmp_path / "x.npy", X.astype(np.float64))
    pd.DataFrame({"label": LABELS, "path": [f"img/{i}.png" for i in range(50)]}).to_csv(tmp_path / "m.csv",
                                                                                          index=False)
    v = V.load(tmp_path / "x.npy", metadata=tmp_path / "m.csv")
    np.testing.assert_array_equal(v.X, X)
    assert v.X.dtype == np.float32 and not v.X.flags.writeable
    assert list(v.metadata["label"]) == LABELS and v.image_column == "path" and v.image_kind == "path"
    assert V.load(tmp_path / "x.npy").metadata.shape == (50, 0)


def test_parquet_list_and_fixed_size_columns_with_thumbnails(tmp_path):
    flat = pa.array(X.ravel())
    for i, vec in enumerate([pa.FixedSizeListArray.from_arrays(flat, 6), pa.ListArray.from_arrays(
            pa.array(np.arange(0, 51) * 6, pa.int32()), flat)]):
        table = pa.table({"id": [f"r{j}" for j in range(50)], "embedding": vec, "label": LABELS,
                          "thumbnail": [_png()] * 50})
        pq.write_table(table, tmp_path / f"t{i}.parquet")
        v = V.load(tmp_path / f"t{i}.parquet")
        np.testing.assert_array_equal(v.X, X)
        assert list(v.metadata.columns) == ["id", "label", "thumbnail"]
        assert v.image_column == "thumbnail" and v.image_kind == "bytes"


def test_parquet_folder_of_shards_and_map(tmp_path):
    for s in range(3):
        rows = slice(s * 20, min(50, s * 20 + 20))
        pq.write_table(pa.table({"id": [f"r{j}" for j in range(50)][rows],
                                 "vector": [list(r) for r in X[rows]]}), tmp_path / f"part-{s:05d}.parquet")
    order = RNG.permutation(50)
    coords = RNG.standard_normal((50, 2)).astype(np.float32)
    pq.write_table(pa.table({"id": [f"r{j}" for j in order], "x": coords[order, 0], "y": coords[order, 1]}),
                   tmp_path / "map.parquet")
    v = V.load(tmp_path)
    np.testing.assert_array_equal(v.X, X)
    np.testing.assert_array_equal(v.coords, coords)  # joined on id, whatever the map's row order
    assert "3 Parquet shards" in v.source


def test_vizcore_exports_round_trip_bit_for_bit(tmp_path):
    meta = {"label": LABELS, "id": [f"r{i}" for i in range(50)]}
    Xe = (RNG.standard_normal((50, 6)) * 10.0 ** RNG.integers(-30, 30, (50, 6))).astype(np.float32)
    paths = export.tf_projector(tmp_path, Xe, meta)
    v = V.load(paths["vectors"], metadata=paths["metadata"])
    np.testing.assert_array_equal(v.X.view(np.int32), Xe.view(np.int32))
    assert list(v.metadata["label"]) == LABELS and list(v.metadata["id"]) == meta["id"]


def test_tsv_with_a_label_column_and_blank_lines(tmp_path):
    (tmp_path / "v.tsv").write_text("cat\t1\t2\n\n \ndog\t3\t0x10\n")
    v = V.load(tmp_path / "v.tsv")
    assert v.X.tolist() == [[1, 2], [3, 16]] and list(v.metadata["label"]) == ["cat", "dog"]


def test_csv_numeric_columns_are_the_vector(tmp_path):
    frame = pd.DataFrame(X, columns=[f"d{i}" for i in range(6)])
    frame.insert(0, "label", LABELS)
    frame["id"] = range(50)  # numeric but named like metadata
    frame.to_csv(tmp_path / "v.csv", index=False)
    v = V.load(tmp_path / "v.csv")
    np.testing.assert_allclose(v.X, X, rtol=1e-6)
    assert list(v.metadata.columns) == ["label", "id"]


@pytest.mark.parametrize("content, match", [
    ("1\t2\n-Infinity\t3\n", "NaN or infinite"),
    ("1\t2\nnan\t3\n", "same number"),  # "nan" is not a number: a label, leaving 1 value
    ("1\t2\n1e39\t3\n", "NaN or infinite"),  # beyond float32
    ("1\t2\n3\t4\t5\t6\n", "same number"),
    ("1\n2\n", "at least 2"),
    ("", "empty"),
])
def test_tsv_errors(tmp_path, content, match):
    (tmp_path / "v.tsv").write_text(content)
    with pytest.raises(InputError, match=match):
        V.load(tmp_path / "v.tsv")


def test_npy_and_parquet_errors(tmp_path):
    bad = X.copy()
    bad[3, 1] = np.inf
    np.save(tmp_path / "inf.npy", bad)
    with pytest.raises(InputError, match="1 row.*NaN or infinite.*row 3"):
        V.load(tmp_path / "inf.npy")
    np.save(tmp_path / "one.npy", X[:, :1])
    with pytest.raises(InputError, match="at least 2"):
        V.load(tmp_path / "one.npy")
    np.save(tmp_path / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects"):
        V.load(tmp_path / "obj.npy")
    np.save(tmp_path / "x.npy", X)
    pd.DataFrame({"label": LABELS[:-1]}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(InputError, match="49 rows for 50 vectors"):
        V.load(tmp_path / "x.npy", metadata=tmp_path / "short.csv")
    pq.write_table(pa.table({"vector": [[1.0, 2.0], [1.0, 2.0, 3.0]]}), tmp_path / "ragged.parquet")
    with pytest.raises(InputError, match="different lengths"):
        V.load(tmp_path / "ragged.parquet")
    (tmp_path / "x.bin").write_bytes(b"...")
    with pytest.raises(InputError, match="not a vectors file"):
        V.load(tmp_path / "x.bin")
    assert issubclass(InputError, VizcoreError)


def test_limits_are_stated(monkeypatch, tmp_path):
    monkeypatch.setattr(V, "MAX_POINTS", 10)
    np.save(tmp_path / "x.npy", X)
    with pytest.raises(InputError, match="50 vectors; the limit is 10"):
        V.load(tmp_path / "x.npy")
    monkeypatch.setattr(V, "MAX_TEXT_BYTES", 5)
    (tmp_path / "v.tsv").write_text("1\t2\n3\t4\n")
    with pytest.raises(InputError, match="read up to"):
        V.load(tmp_path / "v.tsv")


def test_labels_and_legends_read_numbers_in_names_as_numbers():
    from vizcore.data.vector_sets import OTHER, as_dataset, natural_key

    names = ["img10", "img2", "Img1", OTHER, "b", "a10b", "a9c", "10", "9"]
    assert sorted(names, key=natural_key) == ["9", "10", "a9c", "a10b", "b", "Img1", "img2", "img10", OTHER]
    numbers = ["0.1", "0.2", "0.05", "-10", "-1", "2", "1e-3", "nan", "x"]  # numbers by value, then text
    assert sorted(numbers, key=natural_key) == ["-10", "-1", "1e-3", "0.05", "0.1", "0.2", "2", "nan", "x"]
    huge = ["a" + "9" * 5000, "a1"]  # a digit run too long for int(): compared as text, no error
    assert sorted(huge, key=natural_key) == ["a1", huge[0]]
    meta = pd.DataFrame({"label": ["c10", "c2", "c1", "c2"]})
    d = as_dataset(V.Vectors(np.zeros((4, 2), np.float32), meta, "t"), "t")
    assert d.label_names == ("c1", "c2", "c10")
    assert [d.label_names[k] for k in d.labels] == ["c10", "c2", "c1", "c2"]  # every row keeps its own label


def test_an_image_path_naming_a_fifo_or_a_folder_gives_no_thumbnail_and_does_not_block(tmp_path):
    import os

    from vizcore.data.vector_sets import image_stamp, thumbnail

    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "folder.png").mkdir()
    Image.new("RGB", (8, 8), (9, 90, 200)).save(tmp_path / "ok.png")
    meta = pd.DataFrame({"image_path": ["pipe.png", "folder.png", "ok.png", "missing.png"]})
    v = V.Vectors(np.zeros((4, 2), np.float32), meta, "t", "image_path", "path", root=str(tmp_path))
    assert thumbnail(v, 0) is None and thumbnail(v, 1) is None and thumbnail(v, 3) is None  # returns at once
    assert thumbnail(v, 2)[0, 0].tolist() == [9, 90, 200]
    before = image_stamp(v, range(4))
    Image.new("RGB", (8, 8), (1, 2, 3)).save(tmp_path / "ok.png")
    os.utime(tmp_path / "ok.png", ns=(1, 1))
    assert image_stamp(v, range(4)) != before  # a changed file changes its rows' stamp
