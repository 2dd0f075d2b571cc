"""The fixed 2-D sin-cos position embedding of MAE (He et al., "Masked Autoencoders Are Scalable Vision Learners",
CVPR 2022; reference: facebookresearch/mae `util/pos_embed.py`).

Used by the MAE module to build its table and by the position-embedding analysis to recognise fixed tables.
May import: `vizcore.errors`.
"""

from __future__ import annotations

import numpy as np

from vizcore.errors import InputError


def sincos_2d(dim: int, grid: tuple[int, int], temperature: float = 10000.0) -> np.ndarray:
    """MAE's fixed 2-D sin-cos position embedding for a (gh, gw) grid: (gh*gw, dim) float64, row-major patches.

    Matches facebookresearch/mae ``get_2d_sincos_pos_embed`` exactly (for non-square grids too). MAE builds
    its grid as ``np.meshgrid(w, h)``, so the FIRST half of the dimensions encodes the patch's column
    (x, w) and the second half its row (y, h). Each half is a 1-D embedding of width dim/2: with
    omega_i = 1 / temperature^(i / (dim/4)) = 1 / 10000^(2i / (dim/2)), i = 0 .. dim/4 - 1, it is
    [sin(pos * omega_0 ..), cos(pos * omega_0 ..)] (all sines, then all cosines; not interleaved).

    Example: patch (r, c), dim 8: [sin c, sin(c/100), cos c, cos(c/100), sin r, sin(r/100), cos r, cos(r/100)].
    """
    if dim <= 0 or dim % 4:
        raise InputError(f"A 2-D sin-cos embedding needs a width divisible by 4; got {dim}.")
    gh, gw = (int(g) for g in grid)
    if gh < 1 or gw < 1:
        raise InputError(f"The grid must have at least one row and column; got {grid}.")
    cols, rows = np.meshgrid(np.arange(gw, dtype=np.float64), np.arange(gh, dtype=np.float64))  # each (gh, gw)
    return np.concatenate([_sincos_1d(dim // 2, cols.ravel(), temperature),
                           _sincos_1d(dim // 2, rows.ravel(), temperature)], axis=1)  # (gh*gw, dim)


def _sincos_1d(dim: int, pos: np.ndarray, temperature: float) -> np.ndarray:
    """(M,) positions -> (M, dim): [sin(pos * omega), cos(pos * omega)], omega_i = temperature^(-2i/dim)."""
    omega = 1.0 / temperature ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.0))  # (dim/2,)
    angles = np.outer(pos, omega)  # (M, dim/2)
    return np.concatenate([np.sin(angles), np.cos(angles)], axis=1)
