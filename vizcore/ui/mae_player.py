"""The MAE page's flip-books: the panels (and the error per hidden patch) at every mask ratio on the slider's grid,
reconstructed once per image and masking choice and switched in the browser, so a move of the ratio costs no rerun.

Every page's title carries its own ratio, kept count, strategy, seed and error, so what is written is what is shown.
The download holds every ratio (it cannot know which one the browser shows), and says so.
"""

from __future__ import annotations

import html
from dataclasses import replace

import numpy as np

from vizcore.analysis.mae import PANEL_TITLES
from vizcore.export import picture, render
from vizcore.ui import cache, reuse
from vizcore.ui import flipbook as flip

RATIOS = tuple(round(0.05 * i, 2) for i in range(20))  # 0.00 ... 0.95: the slider's grid (the paper's default 0.75)
DEFAULT = RATIOS.index(0.75)
ERROR_SIDE = 256  # px of the error panel (its colour bar is drawn beside it)
RATIO_LABEL = "Mask ratio (fraction of patches hidden)"


def reconstructions(spec: str, pretrained: bool, key: str, images: list, m) -> list:
    """`cache.Reconstruction` at every ratio of `RATIOS` for masking `m` (its own ratio ignored)."""
    return [cache.reconstruction(spec, pretrained, key, images, replace(m, ratio=r)) for r in RATIOS]


def settings(r: float, out, m, L: int) -> str:
    """The line that names one page's settings (also written into the download)."""
    sub = f"mask ratio {r:.2f} · {out.kept} patches kept (of {L}) · {m.strategy} · seed {m.seed}"
    if out.mask[0].sum() > 0:
        return sub + f" · MSE on hidden patches {out.hidden_mse[0]:.4f}"
    return sub + " · nothing hidden: the reconstruction panel is all untrained decoder output, not a reconstruction"


def _error_pictures(outs: list) -> list[np.ndarray]:
    """Each ratio's error per hidden patch (g, g) on one scale 0..max for every ratio, visible patches light grey,
    with the colour bar beside: uint8 (H, W, 3) each."""
    hi = _error_scale(outs)
    g = max(outs[0].error[0].shape)
    k = max(1, ERROR_SIDE // g)
    bar = picture.colorbar("Viridis", 0.0, hi, g * k - 54, label="MSE")[:g * k]
    pad = np.full((g * k, 10, 3), 255, np.uint8)
    out = []
    for o in outs:
        err, hidden = render.as_array(o.error[0]).astype(np.float32), render.as_array(o.mask[0]).astype(bool)
        rgb = render.colorize(err, "Viridis", lo=0.0, hi=hi)
        rgb[~hidden] = 225
        out.append(np.concatenate([np.kron(rgb, np.ones((k, k, 1), np.uint8)), pad, bar], axis=1))
    return out


def _error_scale(outs: list) -> float:
    """The largest hidden-patch error over every ratio: one colour scale for all pages."""
    return max(float(o.error[0][o.mask[0].bool()].max()) if o.mask[0].sum() > 0 else 0.0 for o in outs) or 1.0


def panels_book(outs: list, title: str, m, L: int) -> dict:
    """The flip-book of the four panels and the error per hidden patch, one page per ratio."""
    pages = [flip.Page(f"{r:.2f}", f"{html.escape(title)}<small>{settings(r, o, m, L)}</small>",
                       [flip.png(p[0]) for p in o.panels] + [flip.png(e)])
             for r, o, e in zip(RATIOS, outs, _error_pictures(outs))]
    names = list(PANEL_TITLES) + ["error per hidden patch (grey: visible; one scale for every ratio)"]
    return flip.book(pages, panels=names, label=RATIO_LABEL, side=320)


def panels(spec: str, pretrained: bool, key: str, images: list, m, title: str, L: int) -> list:
    """Draw the panels flip-book; returns the reconstructions (for the download)."""
    outs = reconstructions(spec, pretrained, key, images, m)
    pages = reuse.figure((spec, pretrained, key, m, title, "mae_book"), lambda: panels_book(outs, title, m, L))
    flip.flipbook(pages, key="mae_ratio", default=DEFAULT)
    return outs


def all_ratios_png(outs: list, title: str, m, model: str, L: int) -> bytes:
    """Every page of the flip-book (four panels and the error per hidden patch), one row each under its settings."""
    rows = []
    for r, o, e in zip(RATIOS, outs, _error_pictures(outs)):
        pictures = [p[0] for p in o.panels] + [e]
        strip = render.labelled_strip(pictures, [*PANEL_TITLES[:2], "reconstruction", PANEL_TITLES[3],
                                                 "error per hidden patch"], side=256)
        rows.append(picture.titled(strip, f"mask ratio {r:.2f}", [settings(r, o, m, L)]))
    sheet = picture.titled(np.concatenate(rows, axis=0), f"{title} at every mask ratio", [model])
    return picture.png(sheet, title=f"{title} at every mask ratio", lines=[settings(r, o, m, L) for r, o in
                                                                           zip(RATIOS, outs)], model=model)


def strategies_book(spec: str, pretrained: bool, key: str, images: list, m) -> dict:
    """Masked image and reconstruction + visible under each plain strategy (and the focused one when chosen), one
    page per ratio: the same image, ratio and seed in every row."""
    names = ["random", "block", "grid"] + (["focused"] if m.strategy == "focused" else [])
    runs = {n: reconstructions(spec, pretrained, key, images, m if n == "focused" else
                               type(m)(m.ratio, n, m.seed, unnormalize=m.unnormalize)) for n in names}
    L = int(runs["random"][0].mask[0].numel())
    pages = [flip.Page(f"{r:.2f}", f"Masking strategies side by side<small>mask ratio {r:.2f} · "
                       f"{runs['random'][i].kept} patches kept (of {L}) · seed {m.seed} · same image in every row"
                       "</small>", [flip.png(runs[n][i].panels[k][0]) for n in names for k in (1, 3)])
             for i, r in enumerate(RATIOS)]
    return flip.book(pages, panels=[f"{n}: {what}" for n in names for what in ("masked", "reconstruction + visible")],
                     label=RATIO_LABEL, side=200, columns=2)


def strategies(spec: str, pretrained: bool, key: str, images: list, m) -> None:
    pages = reuse.figure((spec, pretrained, key, m, "mae_strategies_book"),
                         lambda: strategies_book(spec, pretrained, key, images, m))
    flip.flipbook(pages, key="mae_ratio_strategies", default=DEFAULT, remember="mae_ratio")

