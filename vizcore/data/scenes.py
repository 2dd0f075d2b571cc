"""Procedural "shapes in clutter" scenes: one foreground shape per image, its class and its exact pixel mask.

The bundled tiny ViT is trained on these, and the mask lets us score *where* it attends: an attention map that
puts more mass on the object than the object's share of the image has learned something about the object.

Design choices (see DESIGN.md, "Known traps"):
- the object may sit anywhere, including partly cropped at the border, so the learned position embeddings see
  every position and develop a real 2-D locality pattern (not just "border vs interior");
- classes differ in *shape* only: hue, size, position and a small rotation are random (objects are bright and
  saturated on a muted, darker background; see `OBJECT_SV`);
- the background is mildly cluttered (smooth colour noise, small blobs and line segments that are never one of
  the class shapes) so the task needs the shape, not just "any foreground pixel".

Shapes are rasterised with coordinate grids and inside-tests (signed-distance style), vectorised over images
with numpy: 20k scenes take about five seconds on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "star", "ring", "heart")

RADIUS = (0.14, 0.30)      # object half-extent as a fraction of the image side (9-19 px at 64 px)
ROTATION_DEG = 15.0        # small random rotation: square and diamond stay 45 +- 15 degrees apart
VISIBLE = 0.5              # the centre stays >= VISIBLE * radius inside the image: up to ~1/3 may be cropped
MAX_DISTRACTORS = 8        # 0..8 small blobs / line segments, clutter * 4 of them on average
# Colours as HSV ranges (hue always uniform). Objects are saturated and bright, backgrounds muted and darker:
# a random-colour object on a random-colour background is a colour-invariance puzzle that a small ViT trained
# from scratch on a CPU learns far too slowly (measured, 64-dim 3-layer ViT after 600 steps of 64: ~19% with
# fully random colours even without clutter, ~38% with these ranges at clutter 0.5, ~67% for white-on-black).
OBJECT_SV = ((0.55, 1.0), (0.75, 1.0))
BACKGROUND_SV = ((0.0, 0.6), (0.1, 0.55))
CHUNK = 256                # images rasterised at once: ~12 MB temporaries at 64 px stay cache-friendly


@dataclass(frozen=True)
class Scenes:
    """A batch of generated scenes.

    Attributes:
        images: (N, 3, H, W) float32 in [0, 1].
        labels: (N,) int64 index into `class_names`.
        masks: (N, H, W) bool, True on the foreground object's pixels.
        class_names: the shape names, `SHAPES`.
    """

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def make_scenes(n: int, *, seed: int, size: int = 64, clutter: float = 0.5) -> Scenes:
    """Generate `n` scenes deterministically from `seed`.

    Args:
        n: number of scenes.
        seed: seed of `numpy.random.default_rng`; the same (n, seed, size, clutter) gives identical tensors.
        size: image side in pixels.
        clutter: 0 = plain smooth background, 1 = strong texture and up to `MAX_DISTRACTORS` distractors.
    """
    if n < 0 or size < 8 or not 0.0 <= clutter <= 1.0:
        raise ValueError(f"make_scenes needs n >= 0, size >= 8 and 0 <= clutter <= 1 (got {n}, {size}, {clutter}).")
    rng = np.random.default_rng(seed)
    images = np.empty((n, 3, size, size), np.float32)
    masks = np.empty((n, size, size), bool)
    labels = rng.integers(0, len(SHAPES), n)
    for start in range(0, n, CHUNK):  # params are drawn chunk by chunk from one stream: still deterministic
        sl = slice(start, min(n, start + CHUNK))
        masks[sl] = _render_chunk(rng, labels[sl], size, clutter, out=images[sl])
    return Scenes(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(masks),
                  SHAPES)


def sample_scenes(seed: int = 0, n: int = len(SHAPES), *, size: int = 64) -> list[tuple[str, Image.Image]]:
    """`n` sample scenes as (class name, PIL image) pairs, cycling through the classes (one per class by default)."""
    pool = make_scenes(max(64, 8 * n), seed=seed, size=size)
    picked: list[int] = []
    for k in range(n):
        idx = torch.nonzero(pool.labels == k % len(SHAPES)).flatten().tolist()
        picked.append(next(i for i in idx if i not in picked))
    arrays = (pool.images[picked].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)  # (n, H, W, 3)
    return [(SHAPES[k % len(SHAPES)], Image.fromarray(a)) for k, a in enumerate(arrays)]


def _render_chunk(rng: np.random.Generator, labels: np.ndarray, size: int, clutter: float,
                  out: np.ndarray) -> np.ndarray:
    """Background, distractors, then the object on top, written into `out` (n, 3, S, S). Returns masks (n, S, S)."""
    n = len(labels)
    coords = np.arange(size, dtype=np.float32) + 0.5
    ys, xs = coords[None, :, None], coords[None, None, :]  # (1, S, 1), (1, 1, S)
    base = _hsv_colours(rng, n, *BACKGROUND_SV)  # (n, 3)
    _background(rng, base, clutter, out=out)  # (n, 3, S, S)
    for _ in range(MAX_DISTRACTORS):  # painted in order, each on a random subset of the images
        present = rng.uniform(size=n) < clutter * rng.uniform(size=n)  # expected count grows with clutter
        is_line = rng.uniform(size=n) < 0.5
        params, colour = rng.uniform(0.0, 1.0, (n, 5)), rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)
        for idx, draw in ((np.flatnonzero(present & ~is_line), _blob_masks),
                          (np.flatnonzero(present & is_line), _segment_masks)):
            _paint(out, idx, draw(params[idx], size, xs, ys), colour[idx])
    mask = _shape_masks(rng, labels, size, xs, ys)  # (n, S, S)
    np.copyto(out, _hsv_colours(rng, n, *OBJECT_SV)[:, :, None, None], where=mask[:, None])
    return mask


def _paint(out: np.ndarray, idx, mask: np.ndarray, colour: np.ndarray) -> None:
    """Set out[idx] (m, 3, S, S) to `colour` (m, 3) where `mask` (m, S, S) is True."""
    sub = out[idx]  # (m, 3, S, S), a copy for index arrays
    np.copyto(sub, colour[:, :, None, None], where=mask[:, None])
    out[idx] = sub


def _background(rng: np.random.Generator, base: np.ndarray, clutter: float, out: np.ndarray) -> None:
    """Base colour + smooth colour noise (a 6x6 random grid, bilinearly upsampled) + faint grey pixel grain.

    Written into `out` (n, 3, S, S) and clipped to [0, 1].
    """
    n, size, g = len(base), out.shape[-1], 6
    coarse = base[:, :, None, None] + (0.04 + 0.10 * clutter) * rng.normal(0.0, 1.0, (n, 3, g, g))  # (n, 3, g, g)
    up = _interp_matrix(g, size)  # (S, g); rows sum to 1, so the base colour passes through unchanged
    np.matmul(up, coarse.astype(np.float32) @ up.T, out=out)  # (S, g) @ (n, 3, g, S) -> (n, 3, S, S)
    amp = 0.02 + 0.06 * clutter
    grain = rng.integers(0, 256, (n, 1, size, size), dtype=np.uint8).astype(np.float32)  # (n, 1, S, S) grey grain
    grain *= amp / 255.0  # bytes are ~4x faster to draw than floats
    grain -= amp / 2
    out += grain
    np.clip(out, 0.0, 1.0, out=out)


def _interp_matrix(g: int, size: int) -> np.ndarray:
    """(size, g) matrix that linearly interpolates g samples spanning the image onto `size` pixel centres."""
    t = (np.arange(size) + 0.5) / size * (g - 1)
    lo = np.minimum(np.floor(t).astype(int), g - 2)
    w = (t - lo).astype(np.float32)
    m = np.zeros((size, g), np.float32)
    m[np.arange(size), lo] = 1 - w
    m[np.arange(size), lo + 1] = w
    return m


def _blob_masks(params: np.ndarray, size: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Small axis-aligned ellipses (radii 1.5-4 px at 64 px), far smaller than any class object.

    params: (m, >= 4) uniforms in [0, 1) -> centre x, centre y, radius x, radius y. Returns (m, S, S) bool.
    """
    p = params.astype(np.float32)[:, :, None, None]  # (m, 4, 1, 1)
    cx, cy = p[:, 0] * size, p[:, 1] * size
    a, b = (1.5 + 2.5 * p[:, 2]) * size / 64, (1.5 + 2.5 * p[:, 3]) * size / 64
    return ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1.0


def _segment_masks(params: np.ndarray, size: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Straight line segments 6-20 px long and 1.2-2.4 px thick (at 64 px).

    params: (m, 5) uniforms in [0, 1) -> start x, start y, length, angle, thickness. Returns (m, S, S) bool.
    """
    p = params.astype(np.float32)[:, :, None, None]  # (m, 5, 1, 1)
    x0, y0 = p[:, 0] * size, p[:, 1] * size
    length = (6 + 14 * p[:, 2]) * size / 64
    dx, dy = length * np.cos(np.pi * p[:, 3]), length * np.sin(np.pi * p[:, 3])
    half = 0.6 + 0.6 * p[:, 4]
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (length**2), 0.0, 1.0)  # (m, S, S) position along segment
    return (xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2 <= half**2


def _shape_masks(rng, labels, size, xs, ys) -> np.ndarray:
    """The class objects: random radius, centre (possibly cropped) and rotation. Returns (n, S, S) bool."""
    n = len(labels)
    r = rng.uniform(*RADIUS, (n, 1, 1)).astype(np.float32) * size
    cx, cy = rng.uniform(VISIBLE * r, size - VISIBLE * r, (2, n, 1, 1)).astype(np.float32)
    theta = np.deg2rad(rng.uniform(-ROTATION_DEG, ROTATION_DEG, (n, 1, 1))).astype(np.float32)
    mask = np.empty((n, size, size), bool)
    for k, name in enumerate(SHAPES):
        idx = np.flatnonzero(labels == k)
        if len(idx):
            frame = _Frame((xs - cx[idx]) / r[idx], (ys - cy[idx]) / r[idx], np.cos(theta[idx]), np.sin(theta[idx]))
            mask[idx] = _inside(name, frame)
    return mask


class _Frame:
    """Shape-local coordinates u (right), v (down) in units of the radius, rotated by theta.

    Kept factored as dx (m, 1, S) and dy (m, S, 1): any linear form a * u + b * v then costs one full-size add,
    which makes half-plane tests (polygons, the star) cheap.
    """

    def __init__(self, dx: np.ndarray, dy: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> None:
        self.dx, self.dy, self.cos, self.sin = dx, dy, cos, sin

    def lin(self, a: float, b: float) -> np.ndarray:
        """a * u + b * v, (m, S, S)."""
        return (a * self.cos - b * self.sin) * self.dx + (a * self.sin + b * self.cos) * self.dy

    @property
    def u(self) -> np.ndarray:
        return self.lin(1.0, 0.0)

    @property
    def v(self) -> np.ndarray:
        return self.lin(0.0, 1.0)

    def shifted(self, du: float, dv: float) -> _Frame:
        """The frame of a shape whose centre sits at (du, dv) in this frame."""
        c, s = self.cos, self.sin
        return _Frame(self.dx - du * c + dv * s, self.dy - du * s - dv * c, c, s)

    def rho2(self) -> np.ndarray:
        """u^2 + v^2 (rotation does not change it), (m, S, S)."""
        return self.dx**2 + self.dy**2

    def half_planes(self, angles_deg: np.ndarray, offset: float) -> np.ndarray:
        """How many of the half-planes n(angle) . (u, v) <= offset hold, (m, S, S) uint8."""
        count = np.zeros(np.broadcast_shapes(self.dx.shape, self.dy.shape), np.uint8)
        for a in np.deg2rad(angles_deg):
            count += self.lin(np.cos(a), np.sin(a)) <= offset
        return count


def _inside(name: str, f: _Frame) -> np.ndarray:
    """Inside-test of the unit-radius shape `name` (angles in image coordinates: 0 = right, 90 = down)."""
    if name == "circle":
        return f.rho2() <= 0.9**2
    if name == "ring":
        rho2 = f.rho2()
        return (rho2 <= 1.0) & (rho2 >= 0.55**2)
    if name == "square":
        return f.half_planes(np.array([0, 90, 180, 270]), 0.78) == 4
    if name == "diamond":
        return f.half_planes(np.array([45, 135, 225, 315]), np.sqrt(0.5)) == 4
    if name == "cross":
        au, av, w = np.abs(f.u), np.abs(f.v), 0.32
        return ((au <= w) & (av <= 1.0)) | ((av <= w) & (au <= 1.0))
    if name == "triangle":  # tip up, circumradius 1.15 around (0, 0.25): spans v in [-0.9, 0.83]
        return f.shifted(0.0, 0.25).half_planes(np.array([90, 210, 330]), 1.15 * 0.5) == 3
    if name == "star":  # pentagram: inside >= 4 of the 5 lines joining every second tip (tips at radius 1.05)
        return f.half_planes(np.array([270, 342, 54, 126, 198]), 1.05 * np.cos(np.deg2rad(72))) >= 4
    if name == "heart":  # (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 with y up, fitted into the unit radius
        x, y = f.u * 1.15, -f.v * 1.15 + 0.1
        return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0
    raise ValueError(f"Unknown shape '{name}'. Known: {', '.join(SHAPES)}.")


def _hsv_colours(rng: np.random.Generator, n: int, sat: tuple[float, float],
                 val: tuple[float, float]) -> np.ndarray:
    """(n, 3) RGB colours with uniform hue and saturation / value drawn uniformly from the given ranges."""
    h, s, v = rng.uniform(0.0, 1.0, n), rng.uniform(*sat, n), rng.uniform(*val, n)
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * h[:, None]) % 6.0  # (n, 3): the standard HSV -> RGB formula
    return (v[:, None] - v[:, None] * s[:, None] * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)).astype(np.float32)


SPLITS = {"train": 0, "test": 1, "check": 2}  # "check": fresh held-out scenes for benchmarks and slow tests
CLUTTER = 0.5  # the bundled tiny ViT's scenes: mild texture, ~2 small distractors per scene


def data_seed(seed: int, split: str, *keys: int) -> int:
    """A 32-bit seed for `make_scenes`, independent across (recipe seed, split, epoch, block)."""
    return int(np.random.SeedSequence([seed, SPLITS[split], *keys]).generate_state(1)[0])
