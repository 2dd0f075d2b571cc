"""Hostile and valid image inputs for `vizcore.data.load_image`, generated in memory and deterministically.

No binary fixtures are committed: every case is built here with Pillow, numpy and hand-written PNG / GIF / JPEG
headers. `VALID` must load (to `EXPECTED_SIZE`); `HOSTILE` must raise `ImageError`, when called with
`max_pixels=HOSTILE_MAX_PIXELS.get(name, MAX_PIXELS)`.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

SIZE = (40, 20)  # (width, height) of most valid cases
SMALL_MAX_PIXELS = 32 * 32  # a small limit, so the over-limit case stays tiny and fast
RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    """Save `img` in `fmt` to bytes."""
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def gradient_rgb(size: tuple[int, int] = SIZE) -> Image.Image:
    """A smooth RGB gradient (so lossy formats stay close and every format has real content)."""
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)  # (H, W)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)  # (H, W)
    rgb = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)  # (H, W, 3)
    return Image.fromarray(rgb)


def halves(mode: str, left: object, right: object, size: tuple[int, int] = SIZE) -> Image.Image:
    """An image whose left half is colour `left` and right half `right`."""
    img = Image.new(mode, size, left)
    img.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return img


def noise_png(size: tuple[int, int] = (64, 64)) -> bytes:
    """A PNG of seeded noise: its IDAT is large and incompressible, a good target for corruption."""
    rgb = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return encode(Image.fromarray(rgb), "PNG")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and a correct CRC-32."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_header(width: int, height: int) -> bytes:
    """A well-formed PNG whose IHDR claims `width` x `height` RGB pixels but whose IDAT holds almost nothing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit, RGB, deflate, no filter, no interlace
    idat = zlib.compress(b"\x00" * 64)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def gif_with_header(width: int, height: int) -> bytes:
    """A GIF whose logical screen and only frame claim `width` x `height` pixels, with 1 byte of image data."""
    screen = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00" * 3 + b"\xff" * 3
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return screen + frame + b"\x3b"


def jpeg_with_header(width: int, height: int) -> bytes:
    """A real JPEG with its SOF0 frame header patched to claim `width` x `height` pixels."""
    data = bytearray(encode(gradient_rgb((16, 16)), "JPEG", quality=90))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def cut_in_half(data: bytes) -> bytes:
    """The first half of a file, as left by an interrupted upload."""
    return data[: len(data) // 2]


def flip_idat_middle(png: bytes, count: int = 32) -> bytes:
    """Invert `count` bytes in the middle of the first IDAT chunk (its CRC is left stale)."""
    start = png.index(b"IDAT") + 4
    length = struct.unpack(">I", png[start - 8 : start - 4])[0]
    mid = start + length // 2
    flipped = bytes(b ^ 0xFF for b in png[mid : mid + count])
    return png[:mid] + flipped + png[mid + count :]


def animated_gif() -> bytes:
    """Three frames: red, green, blue. Only the first (red) should be loaded."""
    frames = [Image.new("RGB", SIZE, c) for c in (RED, GREEN, BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def grey16_png() -> bytes:
    """A 16-bit greyscale (I;16) gradient from 1000 to 3000: clipping to 8 bits would make it all white."""
    row = np.linspace(1000, 3000, SIZE[0]).astype(np.uint16)
    img = Image.fromarray(np.tile(row, (SIZE[1], 1)))  # (H, W) uint16 -> mode I;16
    assert img.mode == "I;16"
    return encode(img, "PNG")


def float_tiff() -> bytes:
    """A 32-bit float greyscale (mode F) TIFF with values in -1..1."""
    row = np.linspace(-1, 1, SIZE[0], dtype=np.float32)
    return encode(Image.fromarray(np.tile(row, (SIZE[1], 1)), mode="F"), "TIFF")


def palette_transparent_png() -> bytes:
    """A P-mode PNG: left half palette index 0 (transparent), right half index 1 (red)."""
    img = halves("P", 0, 1)
    img.putpalette([0, 0, 0, *RED] + [0] * (256 - 2) * 3)
    return encode(img, "PNG", transparency=0)


def exif_rotated_jpeg() -> bytes:
    """A 40 x 20 JPEG, left half red and right half blue, tagged EXIF orientation 6 (display rotated 90 cw)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(halves("RGB", RED, BLUE), "JPEG", exif=exif, quality=95)


VALID: dict[str, bytes] = {
    "png": encode(gradient_rgb(), "PNG"),
    "jpeg": encode(gradient_rgb(), "JPEG"),
    "webp": encode(gradient_rgb(), "WEBP"),
    "bmp": encode(gradient_rgb(), "BMP"),
    "gif": encode(gradient_rgb(), "GIF"),
    "tiff": encode(gradient_rgb(), "TIFF"),
    "one_pixel_png": encode(Image.new("RGB", (1, 1), RED), "PNG"),
    "animated_gif": animated_gif(),
    "grey16_png": grey16_png(),
    "float_tiff": float_tiff(),
    "grey_l_png": encode(gradient_rgb().convert("L"), "PNG"),
    "bilevel_bmp": encode(gradient_rgb().convert("1"), "BMP"),
    "cmyk_jpeg": encode(halves("CMYK", (0, 255, 0, 0), (0, 0, 0, 0)), "JPEG", quality=95),
    "rgba_png": encode(halves("RGBA", (0, 0, 0, 0), (*BLUE, 255)), "PNG"),
    "palette_transparent_png": palette_transparent_png(),
    "la_png": encode(halves("LA", (0, 0), (0, 255)), "PNG"),
    "exif_rotated_jpeg": exif_rotated_jpeg(),
}

EXPECTED_SIZE: dict[str, tuple[int, int]] = {
    **{name: SIZE for name in VALID},
    "one_pixel_png": (1, 1),
    "exif_rotated_jpeg": (SIZE[1], SIZE[0]),
}

HOSTILE: dict[str, bytes] = {
    "empty": b"",
    "text": b"hello, not an image",
    "png_signature_only": PNG_SIGNATURE,
    "truncated_png": cut_in_half(noise_png()),
    "truncated_jpeg": cut_in_half(encode(gradient_rgb((64, 64)), "JPEG")),
    "corrupt_png": flip_idat_middle(noise_png()),
    "unsupported_format_ppm": encode(gradient_rgb(), "PPM"),
    "zero_width_png": png_with_header(0, 20),
    "zero_height_gif": gif_with_header(20, 0),
    "extreme_aspect_png": encode(Image.new("RGB", (202, 2)), "PNG"),
    "huge_header_png": png_with_header(100_000, 100_000),  # over 2x Pillow's limit: DecompressionBombError
    "bomb_warning_png": png_with_header(10_000, 10_000),  # between 1x and 2x: Pillow only warns
    "over_default_limit_png": png_with_header(7_000, 6_000),  # 42 MP: ours rejects, Pillow's 89 MP check would not
    "huge_header_gif": gif_with_header(65_535, 65_535),
    "huge_header_jpeg": jpeg_with_header(65_000, 65_000),
    "over_pixel_limit": encode(gradient_rgb((33, 32)), "PNG"),  # 1056 px > SMALL_MAX_PIXELS
}

# Cases that only fail under a smaller `max_pixels` than the default (all others use the default).
HOSTILE_MAX_PIXELS: dict[str, int] = {"over_pixel_limit": SMALL_MAX_PIXELS}
