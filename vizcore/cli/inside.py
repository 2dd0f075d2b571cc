"""`vizcore inside IMAGE`: one PNG sheet of the steps inside a ViT block (patches -> tokens -> LayerNorm -> q, k, v ->
softmax -> residual -> MLP -> prediction), every panel from the model's own computation (`analysis.trace`).

Drawn with PIL (plotly's static export needs kaleido, which vizcore does not require), so it runs without a browser.
Every panel names its step and live tensor shape; heatmaps of signed values are blue (negative) - white (0) - red
(positive), scaled to the panel's largest |value|, which the bar under each gives. Random weights are labelled in
the picture.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

import vizcore as vc
from vizcore.analysis import trace
from vizcore.cli import heap
from vizcore.cli.attention import labelled_png
from vizcore.errors import InputError
from vizcore.export import render

SEED_EXAMPLE = "preset:seed_example"  # the seed's worked example (random weights), as in the app
PANEL_W, PANEL_H, TITLE_H, GAP, COLS = 360, 330, 58, 14, 4
DIVERGING, SEQUENTIAL = "RdBu_r", "Viridis"
INK, GREY, BLUE, RED, ORANGE = (25, 25, 25), (150, 150, 150), (76, 120, 168), (228, 87, 86), (245, 133, 24)


def add(sub) -> None:
    a = sub.add_parser("inside", help="render the steps inside one ViT block, for one image, to one PNG sheet",
                       epilog="Example: vizcore inside photo.png --model bundled:tiny_vit --layer 3 --head 1 "
                              "--query cls --out steps.png (the seed's own example: --model preset:seed_example)")
    a.add_argument("image", type=Path)
    a.add_argument("--model", default="bundled:tiny_vit",
                   help=f"model spec (see `vizcore models`), or {SEED_EXAMPLE} for the seed's worked example "
                        "(32 px, patch 16, D = 128, 4 heads; random weights)")
    a.add_argument("--random-weights", action="store_true", help="use the architecture with random weights")
    a.add_argument("--layer", type=int, default=0, help="the block to open (0 = first, -1 = last)")
    a.add_argument("--head", type=int, default=0, help="attention head for steps 5-6")
    a.add_argument("--query", default="cls",
                   help="query token: a prefix name (cls, dist, reg1, ...), a patch as ROW,COL, or a token index")
    a.add_argument("--out", type=Path, default=Path("steps.png"), help="PNG sheet to write")
    a.set_defaults(run=_inside)


def _inside(args) -> int:
    with heap.loading():  # timm and the model: long-lived, not worth collecting (vizcore.cli.heap)
        model = trace.seed_example_model() if args.model == SEED_EXAMPLE else vc.load_model(
            args.model, pretrained=not args.random_weights)
    image = vc.load_image(args.image)
    inp, head = trace.trace_input(model, [image]), trace.trace_head(model, [image])
    blk = trace.trace_block(model, [image], layer=args.layer)
    query = query_index(args.query, blk.layout)
    if not 0 <= args.head < blk.num_heads:
        raise InputError(f"Head {args.head} does not exist: block {blk.layer} has heads 0..{blk.num_heads - 1}.")
    title = (f"Inside block {blk.layer} of {model.info.title} ({model.info.spec}) · {args.image.name} · head "
             f"{args.head}, query {blk.layout.token_name(query)}")
    sheet = render_sheet(inp, blk, head, head_index=args.head, query=query, title=title)
    args.out.write_bytes(labelled_png(sheet, model.info))
    print(f"wrote {args.out}: 12 panels, block {blk.layer}, head {args.head}, query {blk.layout.token_name(query)} "
          f"({model.info.title})")
    if not model.info.pretrained:
        print("note: random weights: these are the numbers of an untrained network (the PNG says so too).")
    return 0


def query_index(text: str, layout) -> int:
    """A token index from "cls" / "reg1" (a prefix name), "3,4" (a patch's row, column) or "17" (an index)."""
    text = text.strip().lower()
    (gh, gw), p = layout.grid, layout.num_prefix_tokens
    if text in layout.prefix_names:
        return layout.prefix_names.index(text)
    try:
        if "," in text:
            r, c = (int(v) for v in text.split(","))
            if 0 <= r < gh and 0 <= c < gw:
                return p + r * gw + c
        elif 0 <= int(text) < layout.num_tokens:
            return int(text)
    except ValueError:
        pass
    names = ", ".join(layout.prefix_names) or "none"
    raise InputError(f"Query token {text!r} does not exist. Use a prefix token ({names}), a patch as ROW,COL with "
                     f"ROW < {gh} and COL < {gw}, or a token index 0..{layout.num_tokens - 1}.")


# ---- panels ----------------------------------------------------------------------------------------------------------

def _font(size: int = 13):
    return ImageFont.load_default(size=size)


def _heat(values, scale: str = DIVERGING) -> tuple[np.ndarray, str]:
    """A 2-D array as colours: diverging scales centred on 0 (limits +-max|v|), sequential min to max."""
    v = render.as_array(values).astype(np.float32)
    if scale == DIVERGING:
        lim = float(np.abs(v).max()) or 1.0
        rgb = render.colorize(np.concatenate([v.ravel(), [-lim, lim]]), scale)[:-2].reshape(*v.shape, 3)
        return rgb, f"blue -{lim:.3g} · white 0 · red +{lim:.3g}"
    return render.colorize(v, scale), f"dark {float(v.min()):.3g} -> yellow {float(v.max()):.3g}"


def _stretch(rgb: np.ndarray, w: int, h: int, keep_aspect: bool = False) -> Image.Image:
    im = Image.fromarray(rgb)
    if keep_aspect:
        k = min(w / im.width, h / im.height)
        w, h = max(1, round(im.width * k)), max(1, round(im.height * k))
    return im.resize((w, h), Image.Resampling.NEAREST)


def _chart(series, w: int, h: int, *, xlabel: str, bars: bool = False, hline: float | None = None) -> Image.Image:
    """A small line or bar chart: series = [(values (n,), colour, legend)], y from min(0, .) to max(0, .)."""
    im, left, bottom, top = Image.new("RGB", (w, h), "white"), 46, 34, 6
    d, font = ImageDraw.Draw(im), _font(11)
    allv = np.concatenate([np.asarray(v, np.float64).ravel() for v, _, _ in series] + [[0.0]])
    lo, hi = float(allv.min()), float(allv.max())
    hi = hi if hi > lo else lo + 1.0
    y = lambda v: top + (hi - v) / (hi - lo) * (h - bottom - top)  # noqa: E731
    d.line([(left, y(0)), (w - 4, y(0))], fill=GREY)
    for v in (hi, lo):
        d.text((2, y(v) - 6), f"{v:.3g}", fill=INK, font=font)
    if hline is not None:
        d.line([(left, y(hline)), (w - 4, y(hline))], fill=RED, width=1)
    for values, colour, _ in series:
        v = np.asarray(values, np.float64)
        xs = left + (np.arange(len(v)) + 0.5) * (w - 4 - left) / len(v)
        if bars:
            half = max(0.5, (w - 4 - left) / len(v) / 2 - 0.5)
            for x, val in zip(xs, v):
                colour_i = colour if not callable(colour) else colour(val)
                d.rectangle([x - half, min(y(0), y(val)), x + half, max(y(0), y(val))], fill=colour_i)
        else:
            d.line(list(zip(xs, (y(val) for val in v))), fill=colour, width=2)
    d.text((left, h - bottom + 4), xlabel, fill=INK, font=font)
    x0 = left
    for _, colour, name in series:  # legend: a colour swatch before each name
        d.rectangle([x0, h - bottom + 21, x0 + 14, h - bottom + 27], fill=BLUE if callable(colour) else colour)
        d.text((x0 + 18, h - bottom + 17), name, fill=INK, font=font)
        x0 += 30 + d.textlength(name, font=font)
    return im


def _panel(title: str, body: Image.Image, note: str = "") -> Image.Image:
    """A titled panel: the title wrapped over up to three lines, the body centred, a one-line note under it."""
    panel = Image.new("RGB", (PANEL_W, PANEL_H), "white")
    d, font = ImageDraw.Draw(panel), _font(13)
    lines, line = [], ""
    for word in title.split():
        if line and d.textlength(f"{line} {word}", font=font) > PANEL_W - 8:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    for i, text in enumerate([*lines, line][:3]):
        d.text((4, 2 + 17 * i), text, fill=INK, font=font)
    panel.paste(body, ((PANEL_W - body.width) // 2, TITLE_H))
    if note:
        d.text((4, PANEL_H - 16), note, fill=(90, 90, 90), font=_font(11))
    return panel


def _heat_panel(title: str, values, *, scale: str = DIVERGING, rows: str, cols: str) -> Image.Image:
    rgb, legend = _heat(values, scale)
    body = _stretch(rgb, PANEL_W - 20, PANEL_H - TITLE_H - 40)
    return _panel(title, body, f"rows: {rows}; columns: {cols} · {legend}")


def _image_panel(title: str, rgb: np.ndarray, layout, outline: int | None, note: str) -> Image.Image:
    """The image with its patch grid; `outline`: a patch index to frame."""
    (gh, gw), (ph, pw) = layout.grid, layout.patch_size
    body = _stretch(rgb, PANEL_W - 20, PANEL_H - TITLE_H - 24, keep_aspect=True)
    d, kx, ky = ImageDraw.Draw(body), body.width / (gw * pw), body.height / (gh * ph)
    for i in range(1, gh):
        d.line([(0, i * ph * ky), (body.width, i * ph * ky)], fill="white")
    for j in range(1, gw):
        d.line([(j * pw * kx, 0), (j * pw * kx, body.height)], fill="white")
    if outline is not None:
        r, c = divmod(outline, gw)
        box = [c * pw * kx, r * ph * ky, (c + 1) * pw * kx - 1, (r + 1) * ph * ky - 1]
        d.rectangle(box, outline="black", width=4)
        d.rectangle(box, outline="white", width=2)
    return _panel(title, body, note)


def _top_panel(head: trace.HeadTrace) -> Image.Image:
    body = Image.new("RGB", (PANEL_W - 20, PANEL_H - TITLE_H - 24), "white")
    d, font = ImageDraw.Draw(body), _font(13)
    if not head.top[0]:
        d.text((4, 4), "no classifier head: the output is the\npooled features, nothing to rank", fill=INK, font=font)
    for i, (index, name, p) in enumerate(head.top[0]):
        y0 = 6 + 34 * i
        d.text((4, y0 + 4), f"{name} ({index})", fill=INK, font=font)
        d.rectangle([120, y0, 120 + p * (body.width - 180), y0 + 24], fill=BLUE)
        d.text((126 + p * (body.width - 180), y0 + 4), f"{p:.1%}", fill=INK, font=font)
    return _panel(f"9 · final norm {_shape(head.normed)} -> {head.pool} {_shape(head.pooled)} -> head -> logits "
                  f"{_shape(head.logits)} -> top {len(head.top[0])}", body, "softmax probabilities of the logits")


def busiest_patch(inp: trace.InputTrace) -> int:
    """The patch with the most texture (pixel variance within each channel, summed): a telling one to flatten."""
    C = inp.image.shape[1]
    return int(inp.patches[0].reshape(inp.patches.shape[1], C, -1).var(-1).sum(-1).argmax())


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(["B", *(str(n) for n in t.shape[1:])]) + "]"


def render_sheet(inp: trace.InputTrace, blk: trace.BlockTrace, head: trace.HeadTrace, *, head_index: int,
                 query: int, title: str) -> np.ndarray:
    """The 12 panels of one image (steps 1-9) under `title`: uint8 (H, W, 3)."""
    lay, h, q = blk.layout, head_index, query
    p, name, D = lay.num_prefix_tokens, lay.token_name(query), blk.x_in.shape[-1]
    patch = q - p if q >= p else busiest_patch(inp)
    C = inp.image.shape[1]
    width = inp.patches.shape[-1]
    diff = float((inp.projected - inp.projected_matmul).abs().max())
    row = blk.attn[0, h, q].numpy()  # (N,)
    scaled = blk.scores[0, h, q]
    ent, raw = float(trace.softmax_entropy(scaled)), float(trace.softmax_entropy(scaled / blk.scale))
    x = blk.x_in[0, q].double()
    norms = lambda t: t[0].norm(dim=-1).numpy()  # noqa: E731  (N,)
    qkv = np.concatenate([np.pad(getattr(blk, n)[0, h].numpy(), ((0, 0), (0, 1)), constant_values=np.nan)
                          for n in ("q", "k", "v")], axis=1)[:, :-1]  # (N, 3d + 2): q | k | v
    qkv = np.nan_to_num(qkv, nan=0.0)
    overlay = render.overlay(render.grey(blk.image[0]), row[p:].reshape(lay.grid), opacity=0.65, colorscale=SEQUENTIAL,
                             interpolation="nearest")
    W, H = PANEL_W - 20, PANEL_H - TITLE_H - 24  # a panel's body
    panels = [
        _image_panel(f"1 · image {_shape(inp.image)} cut into {lay.grid[0]} x {lay.grid[1]} patches of "
                     f"{lay.patch_size[0]} x {lay.patch_size[1]} px", render.as_uint8(inp.image[0]), lay, patch,
                     f"framed: {lay.token_name(patch + p)}, flattened in the next panel"),
        _heat_panel(f"1 · {lay.token_name(patch + p)} flattened: {C} x {width // C} = {width} numbers; all "
                    f"patches {_shape(inp.patches)}", inp.patches[0, patch].reshape(C, -1), scale=SEQUENTIAL,
                    rows="channel", cols="pixel"),
        _heat_panel(f"2 · patches @ W^T [{width} x {D}] + b = the conv: {_shape(inp.projected)} (max |conv - "
                    f"matmul| = {diff:.1g})", inp.projected[0], rows="patch", cols="feature"),
        _heat_panel(f"3 · + positions, {', '.join(lay.prefix_names) or 'no prefix'} prepended: tokens "
                    f"{_shape(inp.tokens)}, N = {lay.num_patches} + {p}", inp.tokens[0], rows="token",
                    cols="feature"),
        _panel(f"4 · norm1 on {name} (block {blk.layer}): mean {float(x.mean()):.2g}, var "
               f"{float(x.var(unbiased=False)):.2g} -> 0, 1, then x gamma + beta",
               _chart([(blk.x_in[0, q], GREY, "before"), (blk.ln1[0, q], BLUE, "after norm1")], W, H,
                      xlabel=f"feature (D = {D})")),
        _heat_panel(f"5 · qkv {_shape(blk.qkv)} -> q, k, v {_shape(blk.q)}: head {h}'s q | k | v",
                    qkv, rows="token", cols=f"q|k|v, d = {blk.head_dim}"),
        _panel(f"6 · {name}'s scores x 1/sqrt({blk.head_dim}) -> softmax (head {h}): entropy {ent:.2f} nats, "
               f"{raw:.2f} without the scale", _chart([(row, BLUE, "attention weight")], W, H, bars=True,
                                                     hline=1 / len(row), xlabel="key token (red: uniform 1/N)")),
        _image_panel(f"6 · where {name} looks (head {h}, block {blk.layer}); attention {_shape(blk.attn)}", overlay,
                     lay, q - p if q >= p else None,
                     f"yellow = most (max {row[p:].max():.3g}) · on prefix tokens {row[:p].sum():.1%}"),
        _panel(f"7 · attention @ v -> concat {_shape(blk.context)} -> proj -> + residual: token norms",
               _chart([(norms(blk.x_in), GREY, "x_in"), (norms(blk.resid1), ORANGE, "resid1"),
                       (norms(blk.x_out), BLUE, "x_out")], W, H, xlabel="token")),
        _panel(f"8 · norm2 -> fc1 {_shape(blk.fc1)} of {name}: {int((blk.fc1[0, q] < 0).sum())} of "
               f"{blk.fc1.shape[-1]} negative -> GELU -> fc2", _chart([(blk.fc1[0, q], lambda v: RED if v < 0 else BLUE,
                                                                     "fc1 pre-activation (red < 0)")],
                                                                   W, H, bars=True, xlabel="hidden unit")),
        _panel(f"8 · after GELU {_shape(blk.act)}: negatives squashed toward 0 (ReLU would zero them)",
               _chart([(blk.act[0, q], lambda v: RED if v < 0 else BLUE, "GELU output")], W, H, bars=True,
                      xlabel="hidden unit")),
        _top_panel(head),
    ]
    rows = math.ceil(len(panels) / COLS)
    sheet = Image.new("RGB", (COLS * (PANEL_W + GAP) + GAP, rows * (PANEL_H + GAP) + GAP + 30), (235, 235, 235))
    ImageDraw.Draw(sheet).text((GAP, 8), title, fill=INK, font=_font(16))
    for i, panel in enumerate(panels):
        r, c = divmod(i, COLS)
        sheet.paste(panel, (GAP + c * (PANEL_W + GAP), 30 + GAP + r * (PANEL_H + GAP)))
    return np.asarray(sheet)
