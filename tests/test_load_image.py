"""`vizcore.data`: safe image loading over valid and hostile inputs, sample images, the dataset registry."""

from __future__ import annotations

import io
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from vizcore import data
from vizcore.data import load_dataset, sample_images
from vizcore.errors import ImageError, InputError, VizcoreError
from vizcore.io import images as image_io
from vizcore.io.images import MAX_PIXELS, ImageTooLargeError, load_image

sys.path.insert(0, str(Path(__file__).parent))
from hostile_images import (  # noqa: E402
    BLUE,
    EXPECTED_SIZE,
    HOSTILE,
    HOSTILE_MAX_PIXELS,
    RED,
    VALID,
    WHITE,
)


def close(pixel: tuple[int, ...], colour: tuple[int, ...], tol: int = 12) -> bool:
    """Whether an RGB pixel is within `tol` per channel of `colour` (lossy formats drift a little)."""
    return all(abs(p - c) <= tol for p, c in zip(pixel, colour, strict=True))


# --- valid inputs ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_image_loads_as_rgb_with_expected_size(name: str) -> None:
    img = load_image(VALID[name])
    assert img.mode == "RGB"
    assert img.size == EXPECTED_SIZE[name]
    assert len(img.tobytes()) == img.width * img.height * 3  # pixels are decoded, not lazily pending


def test_exif_orientation_6_rotates_clockwise() -> None:
    img = load_image(VALID["exif_rotated_jpeg"])  # stored 40 x 20: left red, right blue
    assert img.size == (20, 40)
    assert close(img.getpixel((10, 2)), RED, tol=30)  # the left edge is now the top
    assert close(img.getpixel((10, 37)), BLUE, tol=30)


def test_16_bit_gradient_keeps_its_contrast() -> None:
    grey = np.asarray(load_image(VALID["grey16_png"]))[..., 0]
    assert grey.min() < 30 and grey.max() > 220
    assert np.all(np.diff(grey[0].astype(int)) >= 0)  # still a left-to-right ramp


def test_float_image_is_stretched_not_clipped() -> None:
    grey = np.asarray(load_image(VALID["float_tiff"]))[..., 0]
    assert grey.min() < 30 and grey.max() > 220


def test_constant_16_bit_image_does_not_divide_by_zero() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16)).save(buf, "PNG")
    assert load_image(buf.getvalue()).getpixel((0, 0)) == WHITE


@pytest.mark.parametrize(
    ("name", "left", "right"),
    [("rgba_png", WHITE, BLUE), ("palette_transparent_png", WHITE, RED), ("la_png", WHITE, (0, 0, 0))],
)
def test_transparency_is_composited_onto_white(name: str, left: tuple, right: tuple) -> None:
    img = load_image(VALID[name])
    assert img.getpixel((2, 10)) == left
    assert img.getpixel((37, 10)) == right


def test_animated_gif_yields_first_frame() -> None:
    img = load_image(VALID["animated_gif"])
    assert img.getpixel((0, 0)) == RED
    assert img.getpixel((39, 19)) == RED


def test_cmyk_jpeg_converts_to_rgb_colours() -> None:
    img = load_image(VALID["cmyk_jpeg"])  # left 100% magenta ink, right no ink
    assert close(img.getpixel((2, 10)), (255, 0, 255), tol=20)
    assert close(img.getpixel((37, 10)), WHITE, tol=20)


# --- sources --------------------------------------------------------------------------------------------------


@pytest.fixture
def png_path(tmp_path: Path) -> Path:
    path = tmp_path / "image.png"
    path.write_bytes(VALID["png"])
    return path


def test_every_source_type_loads_the_same_image(png_path: Path) -> None:
    raw = VALID["png"]
    with png_path.open("rb") as f:
        from_file = load_image(f)
    sources = [png_path, str(png_path), raw, bytearray(raw), memoryview(raw), io.BytesIO(raw)]
    for img in [load_image(s) for s in sources]:
        assert img.tobytes() == from_file.tobytes()


def test_file_object_already_read_is_rewound() -> None:
    f = io.BytesIO(VALID["png"])
    f.read()
    assert load_image(f).size == EXPECTED_SIZE["png"]
    assert load_image(f).size == EXPECTED_SIZE["png"]  # e.g. a Streamlit upload loaded on every rerun


@pytest.mark.parametrize("make", [lambda p: p / "missing.png", lambda p: str(p / "missing.png"), lambda p: p])
def test_missing_path_or_folder_raises_image_error(tmp_path: Path, make) -> None:
    with pytest.raises(ImageError, match="no image file"):
        load_image(make(tmp_path))


def test_empty_file_on_disk_raises_image_error(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(tmp_path / "empty.png")


@pytest.mark.parametrize("source", [42, None, 3.5, ["a.png"], object()])
def test_unsupported_source_type_raises_image_error(source: object) -> None:
    with pytest.raises(ImageError, match="not an image source"):
        load_image(source)  # type: ignore[arg-type]


def test_text_mode_file_raises_image_error(png_path: Path) -> None:
    with png_path.open("r", encoding="latin-1") as f, pytest.raises(ImageError, match="binary mode"):
        load_image(f)


def test_byte_limit_applies_to_bytes_and_bounds_reads_of_endless_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(image_io, "MAX_BYTES", 1000)

    class Endless:
        def read(self, n: int = -1) -> bytes:
            assert n > 0, "an unbounded read would exhaust memory"
            return b"x" * min(n, 300)

    for source in (b"x" * 1001, Endless()):
        with pytest.raises(ImageTooLargeError, match="larger than"):
            load_image(source)


def test_over_limit_case_loads_under_the_default_limit() -> None:
    assert load_image(HOSTILE["over_pixel_limit"]).mode == "RGB"  # so it is the limit that rejects it


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_invalid_max_pixels_raises_input_error(bad: object) -> None:
    with pytest.raises(InputError):
        load_image(VALID["png"], max_pixels=bad)  # type: ignore[arg-type]


# --- hostile inputs -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_raises_actionable_image_error_quickly(name: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ImageError) as info:
        load_image(HOSTILE[name], max_pixels=HOSTILE_MAX_PIXELS.get(name, MAX_PIXELS))
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert isinstance(info.value, VizcoreError)
    assert message.endswith(".") and message[0].isupper()
    assert "Traceback" not in message


@pytest.mark.parametrize("name", ["huge_header_png", "bomb_warning_png", "over_default_limit_png"])
def test_oversized_headers_raise_too_large_without_warnings(name: str) -> None:
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ImageTooLargeError, match="Downscale"):
        warnings.simplefilter("always")
        load_image(HOSTILE[name])
    assert not caught


def test_zero_size_guard() -> None:
    # Pillow itself refuses zero-size headers today; the guard stays in case a plugin ever lets one through.
    with pytest.raises(ImageError, match="no pixels"):
        image_io._check_size((0, 20), MAX_PIXELS)


def test_global_pillow_state_is_unchanged() -> None:
    before_limit, before_filters = Image.MAX_IMAGE_PIXELS, list(warnings.filters)
    for name, raw in HOSTILE.items():
        with pytest.raises(ImageError):
            load_image(raw, max_pixels=HOSTILE_MAX_PIXELS.get(name, MAX_PIXELS))
    load_image(VALID["png"], max_pixels=10**12)
    assert before_limit == Image.MAX_IMAGE_PIXELS
    assert list(warnings.filters) == before_filters


def _only_image_errors(raw: bytes) -> None:
    try:
        img = load_image(raw)
    except ImageError:
        return
    assert img.mode == "RGB"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_raise_only_image_errors(raw: bytes) -> None:
    _only_image_errors(raw)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(VALID)), st.data())
def test_mutated_valid_files_raise_only_image_errors(name: str, draw: st.DataObject) -> None:
    raw = bytearray(VALID[name])
    for _ in range(draw.draw(st.integers(1, 8))):
        raw[draw.draw(st.integers(0, len(raw) - 1))] = draw.draw(st.integers(0, 255))
    _only_image_errors(bytes(raw[: draw.draw(st.integers(1, len(raw)))]))


# --- sample images and datasets -------------------------------------------------------------------------------


def test_sample_images_are_rgb_copies() -> None:
    samples = sample_images()
    assert {"astronaut (scikit-image)", "cat (scikit-image)", "china (scikit-learn)"} <= set(samples)
    assert all(img.mode == "RGB" and min(img.size) >= 100 for img in samples.values())
    samples["astronaut (scikit-image)"].paste((1, 2, 3), (0, 0, 5, 5))
    assert sample_images()["astronaut (scikit-image)"].getpixel((0, 0)) != (1, 2, 3)


def test_digits_dataset_shape_range_and_labels() -> None:
    ds = load_dataset("digits")
    assert "digits" in data.list_datasets()
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == torch.float32
    assert float(ds.images.min()) == 0.0 and float(ds.images.max()) == 1.0
    assert ds.labels.shape == (1797,) and set(np.unique(ds.labels)) == set(range(10))
    assert ds.label_names == tuple(str(i) for i in range(10))
    assert len(set(ds.ids)) == len(ds) == 1797


def test_unknown_dataset_raises_input_error_listing_names() -> None:
    with pytest.raises(InputError, match="digits"):
        load_dataset("imagenet-1k")


def test_dataset_rejects_inconsistent_fields() -> None:
    with pytest.raises(InputError):
        data.Dataset("bad", torch.zeros(3, 1, 2, 2), np.zeros(2, dtype=int), ("a",), ("1", "2", "3"))


def test_at_least_decodes_a_large_jpeg_at_a_smaller_scale_and_nothing_else():
    """Thumbnails: a JPEG may be decoded at 1/2..1/8 scale (DCT scaling), never below `at_least` a side; the picture
    is the same one (its mean colour), and other formats and small images keep every pixel."""
    rng = np.random.default_rng(0)
    photo = Image.fromarray((rng.random((30, 40, 3)) * 255).astype("uint8")).resize((1600, 1200))
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=90)
    full, small = load_image(buf.getvalue()), load_image(buf.getvalue(), at_least=150)
    assert full.size == (1600, 1200) and small.size == (200, 150)  # 1/8: the smallest scale with both sides >= 150
    assert np.abs(np.asarray(small, float).mean((0, 1)) - np.asarray(full, float).mean((0, 1))).max() < 2
    assert load_image(buf.getvalue(), at_least=1000).size == (1600, 1200)  # 1/2 would give 600 < 1000
    png = io.BytesIO()
    photo.save(png, format="PNG")
    assert load_image(png.getvalue(), at_least=32).size == (1600, 1200)
