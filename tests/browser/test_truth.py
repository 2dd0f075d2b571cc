"""What the browser shows is what vizcore built (issue 13, kinds 1 and 2), checked in headless Chromium.

Colours: every plotly figure the server sends is captured from the websocket (Streamlit's own `ForwardMsg`
protobuf: the JSON of the figure exactly as vizcore built it) and compared with what plotly.js holds in the page
(`el.data`, `el.layout`, `el._fullLayout`): every string of every trace (colour scales, marker and line colours,
hover templates), every colour in the layout, and the colour cycle. Streamlit's frontend rewrites some literal
colours (`#000001`...`#000040`) and, with its theme, the template: either shows up here as a difference.

Controls: on each page with an input, set non-default controls, switch the input (sample -> upload, model ->
model), and check every number the titles and captions print against the widgets on screen, then switch back.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.conftest import wait_idle

pytestmark = pytest.mark.browser

PAGES = ["attention", "posembed", "anatomy", "vae", "autoencoders", "mae", "projector"]
COLOUR = re.compile(r"^(#[0-9a-fA-F]{3,8}|rgba?\(.*\)|hsla?\(.*\))$")

# Every string leaf of the traces and every colour in the layout (template left out: compared through the colour
# cycle below), with its path, as plotly.js holds them.
_READ_PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => {
    const out = {};
    const walk = (v, path) => {
        if (typeof v === 'string') { out[path] = v; return; }
        if (v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
        if (Array.isArray(v)) {
            if (!v.every(x => typeof x === 'number')) v.forEach((x, i) => walk(x, path + '/' + i));
            return;
        }
        for (const k of Object.keys(v)) { if (!k.startsWith('_') && k !== 'template') walk(v[k], path + '/' + k); }
    };
    (el.data || []).forEach((t, i) => walk(t, 'data/' + i));
    walk(el.layout || {}, 'layout');
    const title = el.layout && el.layout.title ? (el.layout.title.text || '') : '';
    return {title: title, strings: out, colorway: (el._fullLayout || {}).colorway || null};
})"""


class Specs:
    """Every plotly figure spec the server sent over the websocket, newest last (`ref_hash` messages resolved)."""

    def __init__(self, page) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg = ForwardMsg
        self.by_hash: dict[str, object] = {}
        self.figures: list[dict] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if not isinstance(payload, (bytes, bytearray)):
            return
        msg = self._msg.FromString(bytes(payload))
        if msg.WhichOneof("type") == "ref_hash":
            msg = self.by_hash.get(msg.ref_hash, msg)
        elif msg.hash:
            self.by_hash[msg.hash] = msg
        if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
            return
        element = msg.delta.new_element
        if element.WhichOneof("type") == "plotly_chart":
            self.figures.append(json.loads(element.plotly_chart.spec))


def _plain(title: str) -> str:
    return re.sub(r"</?b>", "", title or "").strip()


def _spec_strings(spec: dict) -> tuple[dict[str, str], dict[str, str]]:
    """(string leaves of the traces, colour leaves of the layout without its template), keyed like _READ_PLOTS."""
    data: dict[str, str] = {}
    layout: dict[str, str] = {}

    def walk(v, path: str, out: dict, colours_only: bool) -> None:
        if isinstance(v, str):
            if not colours_only or COLOUR.match(v):
                out[path] = v
        elif isinstance(v, list):
            if v and all(isinstance(x, (int, float)) for x in v):
                return
            for i, x in enumerate(v):
                walk(x, f"{path}/{i}", out, colours_only)
        elif isinstance(v, dict) and "bdata" not in v:
            for k, x in v.items():
                if not k.startswith("_") and k != "template":
                    walk(x, f"{path}/{k}", out, colours_only)

    for i, trace in enumerate(spec.get("data", [])):
        walk(trace, f"data/{i}", data, colours_only=False)
    walk(spec.get("layout", {}), "layout", layout, colours_only=True)
    return data, layout


def _differences(spec: dict, shown: dict) -> list[str]:
    data, layout = _spec_strings(spec)
    diffs = [f"{p}: built {v!r}, drawn {shown['strings'].get(p)!r}" for p, v in {**data, **layout}.items()
             if shown["strings"].get(p) != v]
    colorway = spec.get("layout", {}).get("template", {}).get("layout", {}).get("colorway")
    if colorway and shown["colorway"] and [c.lower() for c in colorway] != [c.lower() for c in shown["colorway"]]:
        diffs.append(f"colour cycle: built {colorway[:3]}..., drawn {shown['colorway'][:3]}...")
    return diffs


# Clicks after the page's defaults, so figures that only appear on request are compared too.
ACTIONS = {"attention": ["absolute: 0 → largest value"], "mae": ["Focused", "attention rollout"]}


@pytest.mark.parametrize("path", PAGES)
def test_every_figure_on_screen_has_the_colours_vizcore_built(server, page, path):
    specs = Specs(page)
    page.goto(server.url(path))
    wait_idle(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=180_000)
    wait_idle(page)
    for text in ACTIONS.get(path, []):
        page.get_by_text(text, exact=True).first.click()
        wait_idle(page)
    shown = page.evaluate(_READ_PLOTS)
    assert shown, "no figure on the page"
    problems = []
    for plot in shown:
        candidates = [s for s in specs.figures
                      if _plain(s.get("layout", {}).get("title", {}).get("text", "")) == _plain(plot["title"])]
        assert candidates, f"no figure titled {plot['title']!r} came over the websocket"
        diffs = [_differences(s, plot) for s in reversed(candidates)]  # the newest first
        if all(diffs):
            problems.append(f"{_plain(plot['title'])[:70]}: " + "; ".join(diffs[0][:3]))
    assert not problems, "\n".join(problems)
    assert page.locator('[data-testid="stException"]').count() == 0


def _jpeg(array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG")
    return buf.getvalue()


# ---- controls show the values the views use --------------------------------------------------------------------

def _coffee() -> bytes:
    from skimage import data as skdata

    return _jpeg(skdata.coffee())


def _slider(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).first


def _slider_value(page, label: str) -> str:
    return _slider(page, label).locator('[data-testid="stSliderThumbValue"]').inner_text().strip()


def _move(page, label: str, presses: int) -> None:
    """Move a slider by `presses` steps with the keyboard (negative: left) and wait for the rerun."""
    _slider(page, label).get_by_role("slider").first.focus()
    for _ in range(abs(presses)):
        page.keyboard.press("ArrowRight" if presses > 0 else "ArrowLeft")
    wait_idle(page)


def _number(page, label: str) -> str:
    return page.locator('[data-testid="stNumberInput"]').filter(has_text=label).first.locator("input").input_value()


def _select(page, label: str, option: str) -> None:
    """Choose `option` in selectbox `label` (typing filters the list, so long lists need no scrolling)."""
    wait_idle(page)
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.locator('input[role="combobox"]')
    for attempt in range(3):
        box.click()
        box.fill(option)
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=10_000)
            break
        except Exception:  # noqa: BLE001 - the list closed under a rerun: open it again
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            wait_idle(page)
    wait_idle(page)


def _selected(page, label: str) -> str:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    return box.locator('input[role="combobox"]').input_value().strip()


def _titles(page) -> list[str]:
    return [_plain(t) for t in page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].map(el => (el.layout.title || {}).text || '')")]


def _captions(page) -> str:
    return " ".join(page.locator('[data-testid="stCaptionContainer"]').all_inner_texts())


def _upload(page, files, radio: str = "Upload", uploader: int = 0) -> None:
    page.get_by_text(radio, exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(uploader).set_input_files(files)
    wait_idle(page)


def _image(name: str, data: bytes, mime: str = "image/jpeg") -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def _has_title(page, text: str, timeout: float = 30_000) -> bool:
    """Whether a figure titled with `text` is on the page (waiting up to `timeout` ms for a rerun to draw it)."""
    try:
        page.wait_for_function("t => [...document.querySelectorAll('.js-plotly-plot')].some(el => "
                               "((el.layout.title || {}).text || '').replace(/<\\/?b>/g, '').includes(t))",
                               arg=text, timeout=timeout)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: report False with the titles in the assert
        return False
    return True


def _tab(page, name: str) -> None:
    """Click tab `name` once the page has settled on one set of tabs."""
    wait_idle(page)
    tab = page.get_by_role("tab", name=name, exact=True)
    for _ in range(50):
        if tab.count() == 1:
            break
        page.wait_for_timeout(200)
    tab.click()
    wait_idle(page)


def test_mae_controls_survive_an_upload_and_the_way_back(server, page):
    page.goto(server.url("mae"))
    wait_idle(page)
    _select(page, "Sample image", "scene 3: triangle")
    _move(page, "Mask ratio", 4)  # 0.75 -> 0.95
    page.get_by_role("button", name="Re-draw").click()  # seed 0 -> 1
    wait_idle(page)

    def agrees(name: str) -> None:
        assert _slider_value(page, "Mask ratio") == "0.95"
        assert _number(page, "Seed") == "1"
        assert "keeps 3 of 64" in _captions(page)
        assert _has_title(page, f"MAE reconstruction of {name}")
        assert _has_title(page, "mask ratio 0.95 · 3 patches kept · random · seed 1"), _titles(page)

    agrees("scene 3: triangle")
    _upload(page, _image("coffee.jpg", _coffee()))
    page.locator(".js-plotly-plot").filter(has_text="coffee.jpg").first.wait_for(timeout=120_000)
    agrees("coffee.jpg")
    page.get_by_text("Sample", exact=True).first.click()
    wait_idle(page)
    assert _selected(page, "Sample image") == "scene 3: triangle"
    agrees("scene 3: triangle")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_attention_controls_survive_an_upload_and_the_way_back(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    _select(page, "Sample image", "scene 2: square")
    _tab(page, "Rollout")
    _move(page, "Discard ratio", 9)  # 0.00 -> 0.45
    assert _has_title(page, "discard 0.45")
    _upload(page, _image("coffee.jpg", _coffee()))
    _tab(page, "Rollout")
    page.locator(".js-plotly-plot").filter(has_text="Attention rollout").first.wait_for(timeout=120_000)
    assert _slider_value(page, "Discard ratio") == "0.45"
    assert _has_title(page, "Attention rollout (mean over heads, discard 0.45)"), _titles(page)

    _tab(page, "Query patch")  # sliders and map name the same patch, before and after a click
    wait_idle(page)
    row, col = _slider_value(page, "Patch row"), _slider_value(page, "Patch column")
    assert _has_title(page, f"Where patch ({row}, {col}) looks"), (row, col, _titles(page))
    plot = page.locator(".js-plotly-plot").filter(has_text="Where patch").first
    plot.scroll_into_view_if_needed()
    box = plot.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 6.5 / 8, box["y"] + box["height"] * 2.5 / 8)  # patch (2, 6)
    page.locator(".js-plotly-plot").filter(has_text="Where patch (2, 6)").first.wait_for(timeout=60_000)
    wait_idle(page)
    assert (_slider_value(page, "Patch row"), _slider_value(page, "Patch column")) == ("2", "6")

    page.get_by_text("Sample", exact=True).first.click()
    wait_idle(page)
    assert _selected(page, "Sample image") == "scene 2: square"
    _tab(page, "Rollout")
    assert _slider_value(page, "Discard ratio") == "0.45"
    assert _has_title(page, "discard 0.45")
    assert page.locator('[data-testid="stException"]').count() == 0


def _photo(seed: int, size=(120, 90)) -> bytes:
    import numpy as np

    return _jpeg(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def test_anatomy_block_survives_an_upload_and_the_way_back(server, page):
    page.goto(server.url("anatomy"))
    wait_idle(page)
    _move(page, "Block for the shape walk-through", 2)
    page.get_by_text("Tensor shapes through encoder block 2").wait_for(timeout=60_000)
    _upload(page, [_image("coffee.jpg", _coffee()), _image("noise.jpg", _photo(1))])
    page.get_by_text("Statistics over 2 images").wait_for(timeout=120_000)
    assert _slider_value(page, "Block for the shape walk-through") == "2"
    assert page.get_by_text("Tensor shapes through encoder block 2").count() == 1
    page.get_by_text("All samples", exact=True).first.click()
    wait_idle(page)
    assert _slider_value(page, "Block for the shape walk-through") == "2"
    assert page.get_by_text("Tensor shapes through encoder block 2").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0


def test_vae_controls_survive_uploaded_endpoints_and_the_way_back(server, page):
    page.goto(server.url("vae"))
    wait_idle(page)
    _select(page, "A: class", "heart")
    _move(page, "Frames in the strip", -4)  # 9 -> 5
    _move(page, "t (0 = A, 1 = B)", 30)  # 0.50 -> 0.80
    page.get_by_text("decoded frame at t = 0.80").wait_for(timeout=60_000)
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(0).set_input_files(_image("a.jpg", _coffee()))
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(_image("b.jpg", _photo(2)))
    wait_idle(page)
    page.get_by_text("decoded frame at t = ").first.wait_for(timeout=120_000)
    assert _slider_value(page, "t (0 = A, 1 = B)") == "0.80"
    assert page.get_by_text("decoded frame at t = 0.80").count() == 1
    assert _slider_value(page, "Frames in the strip") == "5"
    assert _has_title(page, "5 frames from A to B"), _titles(page)
    page.get_by_text("Data set", exact=True).first.click()
    wait_idle(page)
    assert _selected(page, "A: class") == "heart"
    assert _slider_value(page, "t (0 = A, 1 = B)") == "0.80" and _has_title(page, "5 frames from A to B")
    assert page.locator('[data-testid="stException"]').count() == 0


def test_posembed_resample_size_survives_a_change_of_model(server, page):
    page.goto(server.url("posembed"))
    wait_idle(page)
    box = page.locator('[data-testid="stNumberInput"]').filter(has_text="Resample to height").first.locator("input")
    box.fill("112")
    box.press("Enter")
    wait_idle(page)
    assert _has_title(page, "Resampled to 14×16 for a 112×128 px input"), _titles(page)
    _select(page, "Model", "Tiny MAE (shapes in clutter)")
    page.get_by_text("sin-cos").first.wait_for(timeout=60_000)
    assert _number(page, "Resample to height") == "112" and _number(page, "Width") == "128"
    assert _has_title(page, "Resampled to 14×16 for a 112×128 px input"), _titles(page)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_sparse_unit_title_follows_the_unit_shown_when_the_model_changes(server, page):
    page.goto(server.url("autoencoders"))
    wait_idle(page)
    _tab(page, "Sparse AE units")

    def agrees() -> None:
        unit = _selected(page, "Unit (most often active first)").split(" · ")[0]  # "unit 17"
        assert _has_title(page, f"Top-16 held-out inputs of {unit}"), (unit, _titles(page))
        assert _has_title(page, f"Dictionary atom of {unit}") or not _has_title(page, "Dictionary atom", 2_000)

    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Unit (most often").first
    box.click()
    page.get_by_role("option").nth(3).click()
    wait_idle(page)
    agrees()
    sae = _selected(page, "Sparse AE")
    other = [o for o in ("Sparse AE · digits · 128 units, L1", "Sparse AE · digits · 128 units, top-16") if o != sae]
    _select(page, "Sparse AE", other[0])
    agrees()
    assert page.locator('[data-testid="stException"]').count() == 0


# ---- downloads are what is on screen ----------------------------------------------------------------------------

def _download(page, button: str) -> bytes:
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name=button).first.click()
    with open(info.value.path(), "rb") as f:
        return f.read()


def _png(data: bytes):
    im = Image.open(io.BytesIO(data))
    im.load()
    return im, dict(im.text)


def _plot_width(page, title: str) -> float:
    return page.locator(".js-plotly-plot").filter(has_text=title).first.bounding_box()["width"]


def test_attention_downloads_are_the_figures_on_screen(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    page.get_by_text("Random weights (untrained)").click()
    wait_idle(page)
    _move(page, "Layer", -1)  # per head: layer 3 -> 2
    assert _has_title(page, "CLS attention per head, layer 2")
    im, text = _png(_download(page, "Download this figure (PNG)"))
    assert text["Title"] == "CLS attention per head, layer 2"
    assert "random weights" in text["Model"] and "Tiny ViT" in text["Model"]
    assert "uniform attention 1/65" in text["Description"]
    assert im.width >= _plot_width(page, "CLS attention per head, layer 2")  # at least as large as on screen

    _tab(page, "Query patch")
    row, col = _slider_value(page, "Patch row"), _slider_value(page, "Patch column")
    title = f"Where patch ({row}, {col}) looks at layer 3"
    assert _has_title(page, title)
    panel = page.get_by_role("tabpanel").filter(has_text="Where patch")
    with page.expect_download(timeout=120_000) as info:
        panel.get_by_role("button", name="Download this figure (PNG)").click()
    im, text = _png(Path(info.value.path()).read_bytes())
    assert text["Title"] == title and "random weights" in text["Model"]
    assert page.locator('[data-testid="stException"]').count() == 0


def test_mae_and_vae_downloads_name_their_model_and_settings(server, page):
    page.goto(server.url("mae"))
    wait_idle(page)
    _move(page, "Mask ratio", -5)  # 0.75 -> 0.50
    assert _has_title(page, "mask ratio 0.50 · 32 patches kept")
    im, text = _png(_download(page, "Download the panels (PNG)"))
    assert text["Title"] == "MAE reconstruction of scene 1: circle" and text["Model"] == "Tiny MAE (shapes in clutter)"
    assert "mask ratio 0.50 · 32 patches kept · random · seed 0" in text["Description"]
    assert im.width >= _plot_width(page, "MAE reconstruction of")

    page.goto(server.url("vae"))
    wait_idle(page)
    page.locator(".js-plotly-plot").filter(has_text="frames from A to B").first.wait_for(timeout=120_000)
    gif = Image.open(io.BytesIO(_download(page, "Download the walk as an animated GIF")))
    assert gif.n_frames == 2 * 9 - 2  # the strip's 9 frames, forwards and back
    frame = page.locator('[data-testid="stImage"]').filter(has_text="decoded frame").locator("img")
    assert gif.width >= frame.bounding_box()["width"] and gif.height >= frame.bounding_box()["height"]


# ---- words that match the input ---------------------------------------------------------------------------------

def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


def test_a_1x1_upload_is_called_an_enlargement(server, page):
    page.goto(server.url("attention"))
    wait_idle(page)
    _upload(page, _image("dot.png", _tiny_png(), "image/png"))
    page.get_by_text("dot.png is only 1×1 px: the model sees it enlarged 64× to 64×64 px").wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0


def test_vae_warns_when_an_endpoint_is_far_outside_the_prior(server, page):
    from skimage import data as skdata

    page.goto(server.url("vae"))
    wait_idle(page)
    page.get_by_text("Upload", exact=True).first.click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(0).set_input_files(
        _image("astronaut.jpg", _jpeg(skdata.astronaut())))
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').nth(1).set_input_files(_image("b.jpg", _photo(2)))
    wait_idle(page)
    page.get_by_text("Endpoint A's code is far outside the prior").wait_for(timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0


# ---- uploads: partial success, named failures -------------------------------------------------------------------

def test_anatomy_keeps_the_good_uploads_and_names_the_rejected_one(server, page):
    from skimage import data as skdata

    page.goto(server.url("anatomy"))
    wait_idle(page)
    photos = [_image(f"{n}.jpg", _jpeg(getattr(skdata, n)())) for n in ("coffee", "astronaut", "chelsea")]
    _upload(page, [*photos, _image("notes.png", b"these are my notes, not a picture", "image/png")])
    page.get_by_text("Statistics over 3 images").wait_for(timeout=180_000)  # the three photos are used
    warning = page.locator('[data-testid="stAlert"]').filter(has_text="Using 3 of 4 uploaded files")
    assert warning.count() == 1
    assert "notes.png" in warning.inner_text() and "not an image" in warning.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0
