"""The app's large-zip path with the projector's default source, Raw pixels (found by benchmarks/bench_app_memory.py).

A large zip upload is embedded by `embed_job.run_local` with the page's default source ("pixels") as soon as it is
uploaded, before the user can pick a model. The in-memory path (`imagesets`) fits every image into 64 x 64, so
photos of any size work there; the streamed path flattens each image at its own size, so a zip of photos of
mixed sizes fails ("Images in one batch must share a size"), and one of same-size photos (e.g. 224 px) is
embedded to the end as 150,528-d vectors (4,096-row shards of 2.4 GB in memory) that `vectors.load` then refuses
(more than `MAX_DIM` = 16,384 dimensions). Fixed: the job fits every image into 64 x 64 on black, exactly as the
in-memory path does (`imagesets.fit_image`).
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
from PIL import Image

from vizcore.data.imagesets import fit_image
from vizcore.export import embed_job
from vizcore.io import vectors


def _zip(path, sizes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for i, (w, h) in enumerate(sizes):
            buf = io.BytesIO()
            Image.new("RGB", (w, h), (20 * i % 255, 90, 160)).save(buf, "PNG")
            zf.writestr(f"photos/{'a' if i % 2 else 'b'}/{i:03d}.png", buf.getvalue())


def test_pixels_of_a_zip_of_photos_of_mixed_sizes_embed_and_read_back(tmp_path):
    _zip(tmp_path / "photos.zip", [(224, 224), (640, 480), (48, 48), (300, 200)] * 3)
    summary = embed_job.run_local(embed_job.EmbedJob(str(tmp_path / "photos.zip"), "pixels"), tmp_path / "out")
    assert summary["written"] == 12
    v = vectors.load(tmp_path / "out")
    assert v.X.shape == (12, 3 * 64 * 64)
    photo = Image.new("RGB", (640, 480), (20, 90, 160))  # image 1 of the zip, as _zip drew it
    row = [i for i, name in enumerate(v.metadata["id"]) if name.endswith("001.png")][0]
    np.testing.assert_allclose(v.X[row], fit_image(photo).flatten().numpy(), atol=1e-6)
