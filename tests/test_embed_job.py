"""`vizcore embed` / `vizcore project`: Parquet shards from a folder, zip or list, resumable, read back in row order;
the Ray engine's Parquet equals the local engine's (skipped with the reason when Ray is not installed)."""

from __future__ import annotations

import importlib.util
import io
import json
import zipfile

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from vizcore.analysis import embeddings
from vizcore.cli import main
from vizcore.data.image_stream import open_images
from vizcore.errors import InputError
from vizcore.export import embed_job
from vizcore.io import vectors

MODEL = "bundled:tiny_vit"


def make_images(root, n: int, seed: int = 0) -> list:
    """n small PNGs in two labelled sub-folders (varied sizes), plus a broken one and a text file."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        label = "red" if i % 2 else "blue"
        (root / label).mkdir(parents=True, exist_ok=True)
        size = (int(rng.integers(20, 40)), int(rng.integers(20, 40)))
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        path = root / label / f"{i:04d}.png"
        Image.fromarray(pixels).save(path)
        paths.append(path)
    (root / "blue" / "broken.png").write_bytes(b"not a png")
    (root / "notes.txt").write_text("hello")
    return paths


def test_local_engine_shards_resume_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(embed_job, "SHARD_ROWS", 8)
    make_images(tmp_path / "imgs", 20)
    job = embed_job.EmbedJob(str(tmp_path / "imgs"), MODEL, batch_size=5)
    calls = []
    assert not embed_job.finished(tmp_path / "out")  # no folder yet
    summary = embed_job.run_local(job, tmp_path / "out", progress=lambda d, t: calls.append((d, t)))
    assert embed_job.finished(tmp_path / "out")
    assert summary["rows"] == 21 and summary["written"] == 21 and calls[-1] == (21, 21)
    shards = sorted(p.name for p in (tmp_path / "out").glob("*.parquet"))
    assert shards == ["part-000000000.parquet", "part-000000008.parquet", "part-000000016.parquet"]
    v = vectors.load(tmp_path / "out")
    with open_images(tmp_path / "imgs") as listing:
        good = [it for it in listing.items if it.id != "blue/broken.png"]
        expected = embeddings.compute(MODEL, [it.load() for it in good])
    np.testing.assert_allclose(v.X, expected, atol=1e-5)
    assert list(v.metadata["id"]) == [it.id for it in good] and set(v.metadata["label"]) == {"red", "blue"}
    assert v.image_column == "thumbnail" and v.image_kind == "bytes"
    assert Image.open(io.BytesIO(v.metadata["thumbnail"].iloc[0])).size[0] <= 48
    manifest = json.loads((tmp_path / "out" / "embed.json").read_text())
    assert manifest["skipped_count"] >= 1 and any("broken" in s[0] for s in manifest["skipped"])

    (tmp_path / "out" / shards[1]).unlink()  # resume: only the missing shard is redone
    assert not embed_job.finished(tmp_path / "out")  # the app asks before embedding a store that is not whole
    again = embed_job.run_local(job, tmp_path / "out")
    assert again["written"] == 8 and again["skipped_shards"] == 2
    np.testing.assert_array_equal(vectors.load(tmp_path / "out").X, v.X)
    (tmp_path / "out" / "embed.json").write_text("{not json")
    assert not embed_job.finished(tmp_path / "out")
    with pytest.raises(embed_job.OtherJobError, match="cannot be read"):  # said, not a JSONDecodeError
        embed_job.run_local(job, tmp_path / "out")
    (tmp_path / "out" / "embed.json").write_text(json.dumps(manifest))

    other = embed_job.EmbedJob(str(tmp_path / "imgs"), MODEL, pooling="mean")
    with pytest.raises(InputError, match="another job"):
        embed_job.run_local(other, tmp_path / "out")


def test_zip_and_list_sources_and_the_cli(tmp_path, capsys):
    paths = make_images(tmp_path / "imgs", 6)
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(str(p.relative_to(tmp_path)) for p in paths) + "\n# a comment\n")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in paths:
            zf.write(p, arcname=str(p.relative_to(tmp_path / "imgs")))
    (tmp_path / "imgs.zip").write_bytes(buf.getvalue())
    outs = []
    for i, source in enumerate([listing, tmp_path / "imgs.zip"]):
        out = tmp_path / f"out{i}"
        assert main(["embed", str(source), "--model", MODEL, "--out", str(out), "--thumb", "0"]) == 0
        outs.append(vectors.load(out))
    np.testing.assert_allclose(outs[0].X, outs[1].X, atol=1e-6)
    assert outs[0].image_kind == "path" and outs[1].image_column is None  # zip members have no path on disk
    assert main(["project", str(tmp_path / "out0"), "--method", "pca"]) == 0
    assert "map.parquet" in capsys.readouterr().out
    assert vectors.load(tmp_path / "out0").coords.shape == (6, 2)
    assert main(["project", str(tmp_path / "out0"), "--method", "umap", "--n-neighbors", "1"]) == 2
    assert "n_neighbors must be an integer from 2" in capsys.readouterr().err
    assert main(["embed", str(tmp_path / "nowhere"), "--model", MODEL, "--out", str(tmp_path / "x")]) == 2


def test_project_writes_a_map_for_a_npy(tmp_path):
    X = np.random.default_rng(0).standard_normal((30, 4)).astype(np.float32)
    np.save(tmp_path / "e.npy", X)
    assert main(["project", str(tmp_path / "e.npy"), "--method", "pca", "--dims", "3"]) == 0
    table = pq.read_table(tmp_path / "map.parquet")
    assert table.column_names == ["id", "x", "y", "z"] and table.num_rows == 30


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="Ray is not installed: `pip install -e '.[scale]'` runs the --engine ray test")
def test_ray_engine_matches_the_local_engine(tmp_path):
    import ray

    from vizcore.export.embed_ray import max_abs_difference, run_ray

    make_images(tmp_path / "imgs", 300)
    job = embed_job.EmbedJob(str(tmp_path / "imgs"), MODEL, batch_size=32)
    embed_job.run_local(job, tmp_path / "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = run_ray(job, tmp_path / "ray", workers=2)
        again = run_ray(job, tmp_path / "ray", workers=2)  # resumable: nothing left to do
    finally:
        ray.shutdown()
    assert summary["written"] == 301 and again["written"] == 0
    local, distributed = vectors.load(tmp_path / "local"), vectors.load(tmp_path / "ray")
    assert max_abs_difference(local.X, distributed.X) <= 1e-6
    assert list(local.metadata["id"]) == list(distributed.metadata["id"])
