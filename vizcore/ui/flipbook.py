"""A flip-book: pictures computed once, switched in the browser by a slider, with no server round trip.

For controls whose pictures are few and known (interpolation frames, mask ratios on a grid). A Streamlit slider
reruns the script for every move (0.1 s here even for a trivial app); this slider swaps preloaded PNGs and the
frame's title in the page itself (a `st.components.v2` component: a native range input, so arrow keys, Home/End
and the mouse work and the value is always printed beside it). The title and every number in it are the frame's
own, set in the same step as the picture, so what is written always describes what is shown.

The page the user left a flip-book at is kept in the browser tab (not on the server), so a new input (new pages)
opens at the same value (issue 13 §2: a control keeps its value across a change of input). Nothing the server
draws may depend on the page shown: a download holds every page.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from vizcore.export import render

_HTML = '<div class="flip"><div class="title"></div><div class="body"><div class="panels"></div>' \
        '<img class="legend" alt="colour scale" hidden></div><div class="control"><label>' \
        '<span class="name"></span> <b class="value"></b></label><input type="range" min="0" step="1"></div></div>'
_CSS = """
.flip { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); }
.title { font-size: 16px; font-weight: 600; margin: 2px 0 6px; min-height: 1.3em; }
.title small { display: block; font-size: 13px; font-weight: 400; opacity: 0.75; }
.body { display: flex; gap: 14px; align-items: center; }
.panels { display: flex; gap: 10px; flex: 1 1 auto; min-width: 0; }
.panels.grid { display: grid; }
.panel { flex: 1 1 0; min-width: 0; display: flex; flex-direction: column; justify-content: flex-end; }
.panel .ptitle { font-size: 13px; margin-bottom: 3px; line-height: 1.25; }
.panel img { width: 100%; image-rendering: pixelated; display: block; background: #eee; }
.legend { flex: none; max-width: 30%; }
.control { margin-top: 8px; max-width: 100%; }
.control label { font-size: 14px; display: block; margin-bottom: 2px; }
.control input { width: 100%; accent-color: var(--st-primary-color, #ff4b4b); }
"""
_JS = """
export default function ({ data, parentElement }) {
  const root = parentElement.querySelector('.flip');
  const input = root.querySelector('input');
  const panels = root.querySelector('.panels');
  const legend = root.querySelector('.legend');
  const prev = root.__flip;
  root.__flip = data;
  if (prev && prev.id === data.id) return;  // the same frames: keep what the user is looking at
  // The page each flip-book was left at, per browser tab (kept across reruns and pages, not across a reload).
  const kept = (window.__vizcoreFlip = window.__vizcoreFlip || {});
  const last = data.frames.length - 1;
  const start = Math.min(last, Math.max(0, kept[data.remember] ?? data.active));
  root.style.setProperty('--side', data.side + 'px');
  panels.classList.toggle('grid', data.columns > 0);
  panels.style.gridTemplateColumns = data.columns > 0 ? `repeat(${data.columns}, minmax(0, ${data.side}px))` : '';
  root.querySelector('.name').textContent = data.label;
  panels.innerHTML = '';
  const imgs = data.panels.map((name, k) => {
    const box = document.createElement('div');
    box.className = 'panel';
    box.style.flexGrow = String(data.aspects[k]);  // wide pictures (a colour bar beside) get more room
    box.style.maxWidth = data.side * data.aspects[k] + 'px';
    const t = document.createElement('div');
    t.className = 'ptitle';
    t.textContent = name;
    const img = document.createElement('img');
    img.alt = name;
    box.append(t, img);
    panels.append(box);
    return img;
  });
  data.images.forEach((s) => { new Image().src = s; });  // decoded before the first move
  const show = (i) => {
    const f = data.frames[i];
    f.srcs.forEach((s, k) => { imgs[k].src = data.images[s]; });
    legend.hidden = f.legend < 0;
    if (f.legend >= 0) legend.src = data.images[f.legend];
    root.querySelector('.title').innerHTML = f.title;
    root.querySelector('.value').textContent = f.value;
    input.setAttribute('aria-valuetext', f.value);
    root.dataset.index = String(i);
    kept[data.remember] = i;
  };
  input.max = String(last);
  input.value = String(start);
  input.setAttribute('aria-label', data.label);
  input.oninput = () => show(Number(input.value));
  show(start);
}
"""
_COMPONENT = st.components.v2.component("vizcore.flipbook", html=_HTML, css=_CSS, js=_JS)


@dataclass(frozen=True)
class Page:
    """One value of the control: its printed value, the title that describes its pictures (HTML: `<small>` for a
    second line), one PNG (bytes) per panel, and optionally a legend: a PNG drawn beside the panels at its own
    size, never enlarged (a colour bar whose labels must stay readable)."""

    value: str
    title: str
    pngs: Sequence[bytes]
    legend: bytes | None = None


def book(pages: Sequence[Page], *, panels: Sequence[str], label: str, side: int = 256, columns: int = 0) -> dict:
    """What the browser needs to show `pages` (built once per input; each distinct PNG is sent once).

    Args:
        panels: one title per picture of a page (the same for every page).
        label: the slider's name, printed before its value.
        side: the largest width of one picture on screen, in CSS pixels (PNGs are enlarged without smoothing).
        columns: pictures per row (0: all in one row).
    """
    if not pages or any(len(p.pngs) != len(panels) for p in pages):
        raise ValueError("a flip-book needs pages with one picture per panel")
    pool: dict[bytes, int] = {}
    frames = [{"value": p.value, "title": p.title, "srcs": [pool.setdefault(b, len(pool)) for b in p.pngs],
               "legend": -1 if p.legend is None else pool.setdefault(p.legend, len(pool))} for p in pages]
    images = ["data:image/png;base64," + base64.b64encode(b).decode("ascii") for b in pool]
    digest = hashlib.sha256(json.dumps([label, list(panels), side, columns, frames]).encode())
    for b in pool:
        digest.update(b)
    aspects = [round(_aspect(b), 3) for b in pages[0].pngs]
    return {"id": digest.hexdigest()[:16], "label": label, "panels": list(panels), "side": side, "frames": frames,
            "images": images, "columns": columns, "aspects": aspects}


def _aspect(png_bytes: bytes) -> float:
    """Width / height of a PNG, from its header."""
    w, h = int.from_bytes(png_bytes[16:20], "big"), int.from_bytes(png_bytes[20:24], "big")
    return w / max(1, h)


def png(image, scale: int = 1) -> bytes:
    """An image (C, H, W) or (H, W, C) as PNG bytes at its own size (the browser enlarges it, pixels kept crisp).

    Fast zlib (level 1): every page is encoded while the user waits for a new input, and level 1 takes half the
    time of the default for about a quarter more bytes (the same pixels)."""
    return render.to_png(render.as_uint8(image), scale=scale, compress_level=1)


def flipbook(pages: dict, *, key: str, default: int, remember: str = "") -> None:
    """Draw a `book`, open at the page the user left this flip-book at in this browser tab, else at `default`.

    Flip-books that share `remember` (default: `key`) share that page: new pages for a new input, or another
    flip-book over the same values, open where the user left off. The server is never told which page is shown
    (nothing it draws depends on it; a download holds every page), so a move costs no rerun at all.
    """
    n = len(pages["frames"])
    _COMPONENT(data={**pages, "active": int(np.clip(default, 0, n - 1)), "remember": remember or key}, key=key)
