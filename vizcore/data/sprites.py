"""dSprites-style procedural sprites: one white shape on black with known generative factors.

After Matthey et al. 2017 (the dSprites data set used by the beta-VAE paper, Higgins et al. 2017): a shape
(square, ellipse or heart), a scale and an (x, y) position, here continuous and drawn at random, at 32 x 32 px
and anti-aliased (4 x 4 supersampling). Because every image comes with its factors, a VAE's latent dimensions
can be read against them (does one dimension move the shape left-right, another grow it?).

    sprites = make_sprites(1000, seed=0)    # images (N, 1, 32, 32), labels = shape, factors (N, 4)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SHAPES: tuple[str, ...] = ("square", "ellipse", "heart")
FACTORS: tuple[str, ...] = ("shape", "scale", "x", "y")
SIZE = 32                   # image side in pixels
SCALE = (0.5, 1.0)          # relative size; 1.0 = half-extent of RADIUS * size
RADIUS = 0.25               # largest half-extent as a fraction of the side (8 px at 32 px)
POSITION = (0.25, 0.75)     # centre range as a fraction of the side: the largest shape just touches the border
SUPERSAMPLE = 4             # sub-pixels per pixel side for anti-aliased edges
CHUNK = 512                 # images rasterised at once


@dataclass(frozen=True)
class Sprites:
    """A batch of sprites.

    Attributes:
        images: (N, 1, S, S) float32 in [0, 1], white shape on black.
        labels: (N,) int64 index into `SHAPES`.
        factors: (N, 4) float32 (shape index, scale in `SCALE`, x and y of the centre in [0, 1] of the side).
    """

    images: torch.Tensor
    labels: torch.Tensor
    factors: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def make_sprites(n: int, *, seed: int, size: int = SIZE) -> Sprites:
    """`n` sprites drawn deterministically from `seed` (shape, scale, x, y independent and uniform)."""
    if n < 0 or size < 8:
        raise ValueError(f"make_sprites needs n >= 0 and size >= 8 (got {n}, {size}).")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPES), n)
    scale = rng.uniform(*SCALE, n)
    xy = rng.uniform(*POSITION, (n, 2))
    factors = np.column_stack([labels, scale, xy]).astype(np.float32)  # (n, 4)
    images = np.empty((n, 1, size, size), np.float32)
    for start in range(0, n, CHUNK):
        sl = slice(start, min(n, start + CHUNK))
        images[sl, 0] = render(factors[sl], size)
    return Sprites(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)), factors)


def render(factors: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Rasterise sprites from factors (m, 4) -> coverage (m, size, size) float32 in [0, 1]."""
    k = SUPERSAMPLE
    coords = (np.arange(size * k, dtype=np.float32) + 0.5) / k  # sub-pixel centres in pixel units
    f = factors.astype(np.float32)
    r = (f[:, 1] * RADIUS * size)[:, None, None]  # (m, 1, 1) half-extent in pixels
    u = (coords[None, None, :] - f[:, 2, None, None] * size) / r  # (m, 1, Sk) shape-local, units of r
    v = (coords[None, :, None] - f[:, 3, None, None] * size) / r  # (m, Sk, 1)
    inside = np.zeros((len(f), size * k, size * k), bool)
    for s, name in enumerate(SHAPES):
        idx = np.flatnonzero(f[:, 0] == s)
        if len(idx):
            inside[idx] = _inside(name, u[idx], v[idx])
    return inside.reshape(len(f), size, k, size, k).mean(axis=(2, 4), dtype=np.float32)  # (m, S, S)


def _inside(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of the unit-size shape `name` in local coordinates u (right) and v (down)."""
    if name == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if name == "ellipse":  # wide and flat, so its extent differs from the square's and the heart's
        return (u / 1.0) ** 2 + (v / 0.55) ** 2 <= 1.0
    if name == "heart":  # (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0 with y up, fitted into the unit size
        x, y = u * 1.15, -v * 1.15 + 0.1
        return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0
    raise ValueError(f"Unknown shape '{name}'. Known: {', '.join(SHAPES)}.")


BROWSE_SEED = 1    # the registered "sprites" data set (browsing, held-out metrics); recipes train on other seeds
BROWSE_SIZE = 2000
