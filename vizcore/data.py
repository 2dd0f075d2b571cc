"""Images and small datasets for vizcore: safe loading of untrusted images, offline samples, a dataset registry.

Uploads are untrusted, so `load_image` bounds everything before decoding: the raw bytes (`MAX_BYTES`), the
pixel count read from the header (`MAX_PIXELS`, well under Pillow's ~89 M decompression-bomb limit), the
aspect ratio (`MAX_ASPECT`) and the formats (`FORMATS`). Every failure is an `ImageError` whose message says
what went wrong and what to do; no Pillow exception escapes.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps

from vizcore.errors import ImageError, InputError

MAX_PIXELS = 40_000_000  # width * height; a 40 MP photo fits, a 100k x 100k bomb does not
MAX_BYTES = 50 * 1024 * 1024  # raw bytes read from bytes / file sources (read at call time, so tests can patch it)
MAX_ASPECT = 100  # longer side / shorter side; beyond this no model input makes sense
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
_FORMAT_NAMES = "PNG, JPEG, WebP, BMP, GIF, TIFF"
_EMPTY_MESSAGE = "The image is empty (0 bytes). Upload or save the file again."
_HIGH_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa")
# Errors Pillow's decoders raise on malformed input (beyond UnidentifiedImageError and the bomb checks).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, TypeError, KeyError, IndexError, EOFError, struct.error,
                  ZeroDivisionError, OverflowError)

ImageSource = bytes | bytearray | memoryview | str | os.PathLike | IO[bytes]


class ImageTooLargeError(ImageError):
    """The image has more bytes or pixels than vizcore decodes (a guard against decompression bombs)."""


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an untrusted image into a fully loaded RGB image.

    Args:
        source: raw bytes, a file path, or a binary file object such as Streamlit's UploadedFile (rewound to
            its start when seekable, so the same upload can be loaded on every rerun).
        max_pixels: largest width * height accepted, checked from the header before any pixel is decoded.

    Returns:
        An RGB image with EXIF orientation applied; the first frame of animations; transparency composited
        onto white; 16-bit and float greyscale stretched from their min..max to 0..255.

    Raises:
        ImageError: for anything that is not a readable, reasonably sized image (`ImageTooLargeError` when
            over a size limit). Pillow's DecompressionBombWarning is raised as an error inside this call only;
            the global `Image.MAX_IMAGE_PIXELS` is never changed.
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels <= 0:
        raise InputError(f"max_pixels must be a positive integer, got {max_pixels!r}. Pass e.g. 40_000_000.")
    fp = _as_file(source)
    # catch_warnings swaps the process-wide filter list, so concurrent calls can race; that is harmless here:
    # Pillow only warns above its own ~89 M limit, and the header check in `_decode` rejects those anyway
    # unless a caller raised max_pixels above it.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(fp, formats=FORMATS) as img:
                return _decode(img, max_pixels)
        except ImageError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
            raise ImageTooLargeError(
                f"The image declares more than {limit:,} pixels, too many to decode safely. "
                "Downscale it and try again."
            ) from exc
        except Image.UnidentifiedImageError as exc:
            raise ImageError(
                f"The file is not an image vizcore can read ({_FORMAT_NAMES}), or its header is damaged. "
                "Open it in an image editor and export it as PNG or JPEG."
            ) from exc
        except MemoryError as exc:
            raise ImageTooLargeError("Decoding the image ran out of memory. Downscale it and try again.") from exc
        except _DECODE_ERRORS as exc:
            raise ImageError(
                "The image file is damaged or truncated and could not be decoded. "
                "Re-export or re-download it and try again."
            ) from exc


def _as_file(source: object) -> Path | io.BytesIO:
    """Turn any accepted source into something `Image.open` reads, enforcing the empty / byte-size limits."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        view = memoryview(source)
        _check_byte_count(view.nbytes)
        return io.BytesIO(view.tobytes())
    if isinstance(source, (str, os.PathLike)):
        return _check_path(Path(os.fsdecode(source)))
    if callable(getattr(source, "read", None)):
        return io.BytesIO(_read_file(source))
    raise ImageError(
        f"load_image got a {type(source).__name__}, which is not an image source. "
        "Pass bytes, a file path or a binary file object (e.g. a Streamlit upload)."
    )


def _check_byte_count(n: int) -> None:
    """Reject empty input and input over `MAX_BYTES` before decoding."""
    if n == 0:
        raise ImageError(_EMPTY_MESSAGE)
    if n > MAX_BYTES:
        raise ImageTooLargeError(
            f"The file is larger than {MAX_BYTES / 2**20:.0f} MB, vizcore's limit. "
            "Compress or downscale it and try again."
        )


def _check_path(path: Path) -> Path:
    """Fail with a clear message for missing, non-file or empty paths (Pillow would say less)."""
    if not path.is_file():
        raise ImageError(f"There is no image file at '{path}'. Check the path and try again.")
    if path.stat().st_size == 0:  # size on disk is not capped: local files are trusted, unlike uploads
        raise ImageError(_EMPTY_MESSAGE)
    return path


def _read_file(f: IO[bytes]) -> bytes:
    """Read at most `MAX_BYTES + 1` bytes from a file object, so a huge upload cannot exhaust memory."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        f.seek(0)
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_BYTES:
        try:
            chunk = f.read(MAX_BYTES + 1 - total)
        except (OSError, ValueError) as exc:
            raise ImageError(f"The file could not be read ({exc}). Upload or open it again.") from exc
        if not chunk:
            break
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise ImageError("The file was opened in text mode. Open it in binary mode ('rb') and try again.")
        chunks.append(bytes(chunk))
        total += len(chunks[-1])
    _check_byte_count(total)
    return b"".join(chunks)


def _decode(img: Image.Image, max_pixels: int) -> Image.Image:
    """Check the header size, then decode the first frame, orient it and convert it to RGB."""
    _check_size(img.size, max_pixels)
    img.seek(0)  # first frame of an animated GIF / WebP / multi-page TIFF
    oriented = ImageOps.exif_transpose(img)  # always a new, decoded image; pixel count and aspect are unchanged
    rgb = _to_rgb(oriented)
    rgb.load()
    return rgb


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    """Reject zero-size, too-many-pixel and absurd-aspect images from their header size."""
    w, h = size
    if w <= 0 or h <= 0:
        raise ImageError(f"The image has no pixels ({w} x {h}). Check the file was exported correctly.")
    if w * h > max_pixels:
        raise ImageTooLargeError(
            f"The image is {w} x {h} = {w * h:,} pixels, above vizcore's limit of {max_pixels:,} pixels. "
            "Downscale it and try again."
        )
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageError(
            f"The image is {w} x {h}, an aspect ratio above {MAX_ASPECT}:1. Crop it to a less extreme shape."
        )


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB the way a viewer would show it (see `load_image`)."""
    if img.mode == "RGB":
        return img
    if img.mode in _HIGH_BIT_MODES:
        return _stretch_to_l(img).convert("RGB")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return img.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV, RGBX
    except ValueError as exc:
        raise ImageError(f"Images in colour mode {img.mode} are not supported. Convert it to RGB first.") from exc


def _stretch_to_l(img: Image.Image) -> Image.Image:
    """Map a 16/32-bit or float greyscale image's actual min..max to 0..255.

    Clipping instead (Pillow's convert("L")) turns a typical 16-bit image white. A constant image has no range,
    so it is scaled against the mode's nominal full scale (65535, or 1.0 for float) instead.
    """
    a = np.asarray(img, dtype=np.float32)  # (H, W)
    finite = np.isfinite(a)
    if not finite.any():
        return Image.new("L", img.size, 0)
    lo, hi = float(a[finite].min()), float(a[finite].max())
    if hi > lo:
        scaled = (np.where(finite, a, lo) - lo) * (255.0 / (hi - lo))
    else:
        full_scale = 1.0 if img.mode == "F" else 65535.0
        scaled = np.full(a.shape, lo / full_scale * 255.0)
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8))


# Photos bundled inside installed dependencies (display name -> (package, name)), so there are examples offline.
_SAMPLES = {
    "astronaut (scikit-image)": ("skimage", "astronaut"),
    "cat (scikit-image)": ("skimage", "chelsea"),
    "coffee (scikit-image)": ("skimage", "coffee"),
    "rocket (scikit-image)": ("skimage", "rocket"),
    "china (scikit-learn)": ("sklearn", "china.jpg"),
    "flower (scikit-learn)": ("sklearn", "flower.jpg"),
}


@functools.lru_cache(maxsize=1)
def _cached_samples() -> dict[str, Image.Image]:
    from skimage import data as skdata  # imported here: both packages are slow to import and rarely needed
    from sklearn.datasets import load_sample_image

    def array(package: str, name: str) -> np.ndarray:
        return getattr(skdata, name)() if package == "skimage" else load_sample_image(name)

    return {label: Image.fromarray(array(*src)).convert("RGB") for label, src in _SAMPLES.items()}


def sample_images() -> dict[str, Image.Image]:
    """Named RGB sample photos available offline, e.g. "astronaut (scikit-image)".

    Decoded once per process; each call returns fresh copies, so callers may modify them freely.
    """
    return {name: img.copy() for name, img in _cached_samples().items()}


@dataclass(frozen=True, eq=False)
class Dataset:
    """A small labelled image dataset held in memory; shared through a cache, so treat it as read-only.

    Attributes:
        name: registry name, e.g. "digits".
        images: (N, C, H, W) float32 in [0, 1].
        labels: (N,) int class index into `label_names`.
        label_names: human name of each class.
        ids: one stable id per image (e.g. "digits/0042"), to link projector points back to images.
        metadata: extra per-image columns, name -> N values (e.g. a photo tile's "tile_row"); may be empty.
    """

    name: str
    images: torch.Tensor
    labels: np.ndarray
    label_names: tuple[str, ...]
    ids: tuple[str, ...]
    metadata: dict[str, tuple] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.images.shape[0] if self.images.ndim == 4 else -1
        if n < 0 or self.labels.shape != (n,) or len(self.ids) != n:
            raise InputError(
                f"Dataset {self.name!r} has images {tuple(self.images.shape)}, labels {self.labels.shape} and "
                f"{len(self.ids)} ids. Give (N, C, H, W) images with N labels and N ids."
            )
        bad = {key: len(col) for key, col in self.metadata.items() if len(col) != n}
        if bad:
            raise InputError(
                f"Dataset {self.name!r} has {n} images but metadata columns of other lengths {bad}. "
                "Give every metadata column one value per image."
            )

    def __len__(self) -> int:
        return len(self.ids)


def _load_digits() -> Dataset:
    """scikit-learn's 1797 handwritten digits, 8 x 8 greyscale, values 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    ids = tuple(f"digits/{i:04d}" for i in range(len(d.target)))
    return Dataset("digits", images, d.target.astype(np.int64), tuple(str(i) for i in range(10)), ids)


def _load_sprites() -> Dataset:
    """dSprites-style shapes (square, ellipse, heart) at random scale and position, 32 x 32, see vizcore.sprites."""
    from vizcore.sprites import sprites_dataset

    return sprites_dataset()


def _load_scenes() -> Dataset:
    """2,000 held-out "shapes in clutter" scenes (64 x 64 RGB) from the "check" seed, never seen in training.

    Labelled by shape name; metadata holds the object's centre ("object_x", "object_y", fractions of the side)
    and its share of the image ("object_area"), all measured from the exact object mask.
    """
    from vizcore.scenes import make_scenes
    from vizcore.train import VitRecipe, data_seed

    s = make_scenes(2000, seed=data_seed(0, "check"), size=64, clutter=VitRecipe.clutter)
    masks = s.masks.numpy()  # (N, H, W) bool
    area = masks.mean(axis=(1, 2))  # (N,)
    coords = (np.arange(masks.shape[1]) + 0.5) / masks.shape[1]  # pixel centres as fractions of the side
    cx = (masks.sum(axis=1) * coords).sum(axis=1) / masks.sum(axis=(1, 2)).clip(1)  # (N,)
    cy = (masks.sum(axis=2) * coords).sum(axis=1) / masks.sum(axis=(1, 2)).clip(1)  # (N,)
    meta = {"object_x": tuple(cx.round(3).tolist()), "object_y": tuple(cy.round(3).tolist()),
            "object_area": tuple(area.round(4).tolist())}
    ids = tuple(f"scenes/{i:04d}" for i in range(len(s)))
    return Dataset("scenes", s.images, s.labels.numpy(), s.class_names, ids, meta)


def _load_faces() -> Dataset:
    """scikit-image's `lfw_subset`: 100 faces and 100 non-faces (background crops), 25 x 25 greyscale."""
    from skimage.data import lfw_subset  # ships inside the scikit-image package: no download

    images = torch.from_numpy(lfw_subset().astype(np.float32)).unsqueeze(1)  # (200, 1, 25, 25), already in [0, 1]
    labels = np.repeat(np.arange(2, dtype=np.int64), 100)  # the first 100 are faces
    return Dataset("faces", images, labels, ("face", "non-face"), tuple(f"faces/{i:03d}" for i in range(200)))


_TEXTURES = ("brick", "grass", "gravel")  # 512 x 512 greyscale scikit-image textures, shipped in the package
TILE = 64


def _load_photos() -> Dataset:
    """The offline sample photos and three textures cut into 64 x 64 tiles (518 tiles), labelled by source.

    Non-overlapping tiles from a centred crop; metadata "tile_row" / "tile_col" is the tile's place in its photo.
    """
    from skimage import data as skdata

    sources = {name.split(" (")[0]: np.asarray(img) for name, img in _cached_samples().items()}
    sources |= {name: np.repeat(getattr(skdata, name)()[..., None], 3, axis=2) for name in _TEXTURES}
    tiles, labels, rows, cols, ids = [], [], [], [], []
    for k, (name, img) in enumerate(sources.items()):
        gh, gw = img.shape[0] // TILE, img.shape[1] // TILE
        top, left = (img.shape[0] - gh * TILE) // 2, (img.shape[1] - gw * TILE) // 2
        crop = img[top:top + gh * TILE, left:left + gw * TILE]  # (gh*T, gw*T, 3)
        tiles.append(crop.reshape(gh, TILE, gw, TILE, 3).transpose(0, 2, 4, 1, 3).reshape(-1, 3, TILE, TILE))
        grid_r, grid_c = np.divmod(np.arange(gh * gw), gw)
        labels += [k] * (gh * gw)
        rows += grid_r.tolist()
        cols += grid_c.tolist()
        ids += [f"photos/{name}/{r}-{c}" for r, c in zip(grid_r, grid_c)]
    images = torch.from_numpy(np.concatenate(tiles).astype(np.float32) / 255.0)  # (N, 3, 64, 64)
    meta = {"tile_row": tuple(rows), "tile_col": tuple(cols)}
    return Dataset("photos", images, np.asarray(labels, np.int64), tuple(sources), tuple(ids), meta)


# name -> loader; adding a dataset is adding one entry.
DATASETS: dict[str, Callable[[], Dataset]] = {
    "digits": _load_digits,
    "sprites": _load_sprites,
    "scenes": _load_scenes,
    "faces": _load_faces,
    "photos": _load_photos,
}


def list_datasets() -> list[str]:
    """Names accepted by `load_dataset`, sorted."""
    return sorted(DATASETS)


def load_dataset(name: str) -> Dataset:
    """Load a registered dataset by name (cached per process, so the result is shared: do not modify it)."""
    if name not in DATASETS:
        raise InputError(f"Unknown dataset {name!r}. Choose one of: {', '.join(list_datasets())}.")
    return _cached_dataset(name)


@functools.cache
def _cached_dataset(name: str) -> Dataset:
    return DATASETS[name]()
