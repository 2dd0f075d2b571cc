"""Safe decoding of untrusted images (`load_image`) and their conversion to tensors.

Uploads are untrusted, so `load_image` bounds everything before decoding: the raw bytes (`MAX_BYTES`), the
pixel count read from the header (`MAX_PIXELS`, well under Pillow's ~89 M decompression-bomb limit), the
aspect ratio (`MAX_ASPECT`) and the formats (`FORMATS`). Every failure is an `ImageError` whose message says
what went wrong and what to do; no Pillow exception escapes.

May import: `vizcore.errors` only.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import warnings
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


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS, at_least: int | None = None) -> Image.Image:
    """Decode an untrusted image into a fully loaded RGB image.

    Args:
        source: raw bytes, a file path, or a binary file object such as Streamlit's UploadedFile (rewound to
            its start when seekable, so the same upload can be loaded on every rerun).
        max_pixels: largest width * height accepted, checked from the header before any pixel is decoded.
        at_least: for thumbnails: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (Pillow's `draft`, DCT scaling:
            several times faster for large photos) as long as both sides stay at least this many pixels (or the
            image's own size when smaller). None decodes every pixel.

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
                return _decode(img, max_pixels, at_least)
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


def _decode(img: Image.Image, max_pixels: int, at_least: int | None = None) -> Image.Image:
    """Check the header size, then decode the first frame, orient it and convert it to RGB."""
    _check_size(img.size, max_pixels)
    img.seek(0)  # first frame of an animated GIF / WebP / multi-page TIFF
    if at_least is not None and img.format == "JPEG":
        img.draft("RGB", (at_least, at_least))  # the smallest DCT scale keeping both sides >= at_least
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


def shrink(images, size: tuple[int, int]):
    """PIL images much larger than `size` (H, W) box-reduced by an integer factor to about twice it, before any
    float conversion: a 36-megapixel upload then costs megabytes, not a gigabyte. Tensors pass through."""
    if isinstance(images, Image.Image):
        return shrink([images], size)[0]
    if not isinstance(images, (list, tuple)):
        return images
    out = []
    for im in images:
        if isinstance(im, Image.Image):
            factor = int(min(im.width / (2 * size[1]), im.height / (2 * size[0])))
            im = im.reduce(factor) if factor >= 2 else im
        out.append(im)
    return out


def to_tensor_batch(images) -> torch.Tensor:
    """A (B, C, H, W) tensor in [0, 1], a (C, H, W) tensor, a PIL image or a list of PIL images -> (B, C, H, W)."""
    if isinstance(images, Image.Image):
        images = [images]
    if isinstance(images, (list, tuple)):
        if not images:
            raise InputError("No images were given. Add at least one image.")
        if not all(isinstance(im, Image.Image) for im in images):
            return torch.stack([to_tensor_batch(im)[0] for im in images])
        sizes = {im.size for im in images}
        if len(sizes) > 1:
            raise InputError("Images in one batch must share a size; resize them first or pass them one at a time.")
        arrays = [np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0 for im in images]
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    if isinstance(images, torch.Tensor):
        x = images.float()
        if x.ndim == 3:
            x = x.unsqueeze(0)
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise InputError(f"Expected images shaped (B, C, H, W) with C = 1 or 3, got {tuple(images.shape)}.")
        return x
    raise InputError(f"Cannot use {type(images).__name__} as images: pass PIL images or a (B, C, H, W) tensor.")
