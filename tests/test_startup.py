"""Cold start stays cheap (issue 15): what Home, `list_models()` and a CLI command import, and the thread choice.

Timings live in benchmarks (bench_browser.py --rows start,cli), never in tests: these tests check the causes
instead, in a fresh interpreter each (a module imported by another test would hide an import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import mdtables

ROOT = Path(__file__).resolve().parents[1]
MODEL_LIBRARIES = ("torch", "timm", "torchvision", "sklearn", "scipy")
DOWNLOAD_ONLY = ("vizcore.models.download", "huggingface_hub.hf_api")  # HfApi and the HTTP client: ~0.3 s


def _fresh(code: str, env: dict[str, str] | None = None) -> dict:
    """Run `code` in a new interpreter at the repo root; it prints one JSON object as its last line."""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.apptest
def test_home_imports_no_model_library_and_lists_the_models():
    """Server start -> Home: app.py and pages/home.py need no torch, timm, scikit-learn or pandas, and still list the
    bundled and the curated models. (The background warm-up that loads them after the run is switched off here;
    `test_warmup_loads_the_attention_page_after_the_run` checks it.)"""
    code = f"""
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=120).run()
print(json.dumps({{"exception": [str(e.value) for e in at.exception], "markdown": [m.value for m in at.markdown],
                  "code": [c.value for c in at.code],
                  "heavy": [m for m in {MODEL_LIBRARIES + DOWNLOAD_ONLY + ("pandas",)!r} if m in sys.modules]}}))
"""
    out = _fresh(code, env={"VIZCORE_WARMUP": "0"})
    assert not out["exception"], out["exception"]
    assert out["heavy"] == [], f"Home imported {out['heavy']}"
    (bundled,) = ([row["spec"] for row in t] for t in mdtables.tables(out["markdown"]) if "spec" in t[0])
    assert "bundled:tiny_vit" in bundled and "bundled:tiny_mae" in bundled
    curated = [line.split()[0] for line in out["code"][0].splitlines()]  # the curated specs, one per line
    assert "timm:vit_small_patch16_224.dino" in curated and "hf:facebook/vit-mae-base" in curated


@pytest.mark.apptest
def test_warmup_loads_the_attention_page_after_the_run():
    """After Home's run (its script thread has ended, so the warm-up never delays it), one background thread per
    process imports torch, timm, the ViT analyses and the attention figures, loads the first listed ViT into the
    model cache, and leaves the garbage collector on with what it loaded frozen (vizcore.ui.warmup)."""
    code = f"""
import gc, json, sys
from streamlit.testing.v1 import AppTest
import vizcore
from vizcore.ui import cache, warmup
loads, load_model = [], vizcore.load_model
vizcore.load_model = lambda spec, **kw: loads.append(spec) or load_model(spec, **kw)  # count the model loads
at = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=120).run()
thread = warmup.start()  # the one the run started
again = AppTest.from_file({str(ROOT / "app.py")!r}, default_timeout=120).run()
same = warmup.start() is thread
thread.join(300)
spec = cache.model_specs("vit")[0]
watched = ("torch", "timm", "vizcore.ui.cache.vit", "vizcore.figures.attention")
print(json.dumps({{"exception": [str(e.value) for e in at.exception], "alive": thread.is_alive(), "same": same,
                  "loaded": [m for m in watched if m in sys.modules], "gc": gc.isenabled(),
                  "frozen": gc.get_freeze_count(), "spec": spec, "model": cache.model(spec, True).info.spec,
                  "loads": loads}}))
"""
    out = _fresh(code)
    assert not out["exception"] and not out["alive"] and out["same"]
    assert out["loaded"] == ["torch", "timm", "vizcore.ui.cache.vit", "vizcore.figures.attention"]
    assert out["gc"] and out["frozen"] > 100_000
    assert out["model"] == out["spec"] == "bundled:tiny_vit" and out["loads"] == [out["spec"]]  # from the cache


def test_a_page_waits_for_a_warmup_that_has_begun_and_cancels_one_that_has_not(monkeypatch):
    """`warmup.wait` (every page but Home) joins a warm-up that is loading, so no two threads import torch at once;
    a warm-up still waiting for its run or its grace period is cancelled instead (the page loads alone)."""
    import threading
    import time

    from vizcore.ui import warmup

    release = threading.Event()
    busy = threading.Thread(target=release.wait, daemon=True)
    busy.start()
    monkeypatch.setattr(warmup, "_thread", busy)
    monkeypatch.setattr(warmup, "_begun", threading.Event())
    monkeypatch.setattr(warmup, "_page_first", False)
    t = time.perf_counter()
    warmup.wait()  # not begun: returns at once, and the warm-up will not begin
    assert busy.is_alive() and time.perf_counter() - t < 1 and warmup._page_first
    monkeypatch.setattr(warmup, "_page_first", False)
    warmup._begun.set()  # loading: the page waits until it is over
    threading.Timer(0.3, release.set).start()
    warmup.wait()
    assert not busy.is_alive() and not warmup._page_first


def test_no_thread_count_change_while_the_warmup_imports_torch(monkeypatch):
    """app.py's `set_torch_threads` reads torch from `sys.modules`; while the warm-up imports torch it would meet a
    half-imported module (seen in the browser benchmark: AttributeError, no `get_num_threads`), so it is skipped."""
    import threading

    from vizcore.ui import warmup

    release = threading.Event()
    busy = threading.Thread(target=release.wait, daemon=True)
    busy.start()
    monkeypatch.setattr(warmup, "_thread", busy)
    monkeypatch.setattr(warmup, "_begun", threading.Event())
    ran = []
    warmup.unless_loading(lambda: ran.append("before it began"))
    warmup._begun.set()
    warmup.unless_loading(lambda: ran.append("while loading"))
    release.set()
    busy.join()
    warmup.unless_loading(lambda: ran.append("after"))
    assert ran == ["before it began", "after"]


def test_warmup_can_be_switched_off(monkeypatch):
    from vizcore.ui import warmup

    for value in ("0", "off", "False"):
        monkeypatch.setenv("VIZCORE_WARMUP", value)
        assert not warmup.enabled() and warmup.start() is None
    monkeypatch.setenv("VIZCORE_WARMUP", "1")
    assert warmup.enabled()


def test_list_models_imports_no_model_library():
    code = f"""
import json, sys
import vizcore as vc
from vizcore.models import format_size, weights_present
infos = vc.list_models()
print(json.dumps({{"specs": [i.spec for i in infos], "present": weights_present("timm:vit_small_patch16_224.dino"),
                  "heavy": [m for m in {MODEL_LIBRARIES!r} if m in sys.modules]}}))
"""
    out = _fresh(code)
    assert out["heavy"] == [], f"list_models() imported {out['heavy']}"
    assert "bundled:tiny_vit" in out["specs"] and "timm:vit_small_patch16_224.dino" in out["specs"]


def test_curated_hub_sources_match_timm():
    """The catalog names a curated timm model's Hub repo without importing timm; it is what timm's pretrained
    config says (so `weights_present` looks in the same place as a download)."""
    from vizcore.models import curated, hub_files

    for entry in curated.CURATED:
        if entry.spec.startswith("timm:"):
            assert curated.hub_source(entry.spec) == hub_files.source_for_spec(entry.spec), entry.spec


def test_cli_attention_loads_only_what_it_uses(tmp_path):
    """`vizcore attention` on the bundled ViT loads neither the training recipes nor scikit-learn / scipy, and
    runs torch with the thread count `vizcore.threads` chose."""
    from vizcore.data.scenes import sample_scenes

    image = tmp_path / "scene.png"
    sample_scenes(n=1)[0][1].save(image)
    code = f"""
import json, sys
from vizcore.cli import main
code = main(["attention", {str(image)!r}, "--out", {str(tmp_path / "a.png")!r}])
import torch
unused = ("sklearn", "scipy", "vizcore.train", "vizcore.cli.train")
print(json.dumps({{"code": code, "threads": torch.get_num_threads(),
                  "loaded": [m for m in unused if m in sys.modules]}}))
"""
    out = _fresh(code, env={"VIZCORE_THREADS": "1"})
    assert out["code"] == 0 and (tmp_path / "a.png").stat().st_size > 0
    assert out["loaded"] == [], f"vizcore attention imported {out['loaded']}"
    assert out["threads"] == 1


@pytest.mark.parametrize(("env", "expected"), [
    ({}, 1), ({"OMP_NUM_THREADS": "2"}, 2), ({"VIZCORE_THREADS": "2", "OMP_NUM_THREADS": "1"}, 2),
    ({"VIZCORE_THREADS": "zero", "OMP_NUM_THREADS": "0"}, 1),
])
def test_thread_count_comes_from_the_environment_or_the_default(monkeypatch, env, expected):
    from vizcore import threads

    for var in ("VIZCORE_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert threads.torch_threads() == expected


def test_thread_count_leaves_a_torch_that_another_thread_is_importing_alone(monkeypatch):
    """A half-imported torch (another session's thread mid-import) has no get_num_threads yet: leave it alone."""
    import importlib.machinery
    import sys
    import types

    from vizcore import threads

    half = types.ModuleType("torch")
    half.__spec__ = importlib.machinery.ModuleSpec("torch", None)
    half.__spec__._initializing = True
    monkeypatch.setitem(sys.modules, "torch", half)
    assert threads.set_torch_threads() >= 1  # no AttributeError


def _loads(code: str, watched: tuple[str, ...]) -> list[str]:
    """Which of `watched` a fresh interpreter has loaded after running `code`."""
    return _fresh(f"{code}\nimport json, sys\nprint(json.dumps([m for m in {watched!r} if m in sys.modules]))")


def test_render_loads_neither_pandas_nor_plotly_validators():
    """`from vizcore.export import render` and colouring a map: no pandas (the projector writers' dependency,
    loaded on first use of `vizcore.export.tf_projector` & co) and no plotly validators / narwhals (the named colour
    scales are read from `plotly.colors`' modules)."""
    code = """
import numpy as np
from vizcore.export import render
render.colorize(np.eye(4), "Inferno_r")
render.check_colorscale("Viridis")
"""
    assert _loads(code, ("pandas", "narwhals", "_plotly_utils.basevalidators")) == []
    assert _loads("import vizcore.export as e; e.write_vectors_tsv", ("pandas",)) == []


def test_sample_images_import_neither_scikit_learn_nor_scikit_image():
    """The offline photos are files inside the two packages, read by path (`sklearn.datasets` costs 1.5-9 s,
    `skimage.io` imports scipy)."""
    code = "from vizcore.data import sample_images\nassert len(sample_images()) == 6"
    assert _loads(code, ("sklearn", "skimage", "scipy")) == []


@pytest.mark.parametrize("names", ["latent_scatter, image_grid", "head_maps", "mae_panels"])
def test_figures_load_only_their_topic(names: str):
    """`from vizcore.figures import ...` loads only the modules defining those names: the VAE and Autoencoders
    pages import no timm (figures.mae reads MAE checkpoints, whose transformers converter imports timm only when
    it converts)."""
    loaded = _loads(f"from vizcore.figures import {names}", ("timm", "vizcore.figures.mae", "vizcore.figures.latent"))
    assert "timm" not in loaded
    assert ("vizcore.figures.mae" in loaded) == ("mae_panels" in names)
    assert ("vizcore.figures.latent" in loaded) == ("latent_scatter" in names)


def test_cli_own_process_collects_nothing_while_loading(tmp_path):
    """`vizcore attention` as its own process (no argv: the console script, `python -m vizcore`) loads with the
    cyclic collector off, then freezes what it loaded and collects normally again (vizcore.cli.heap); `main([...])`
    called from Python leaves the caller's collector as it was."""
    from vizcore.data.scenes import sample_scenes

    image = tmp_path / "scene.png"
    sample_scenes(n=1)[0][1].save(image)
    code = f"""
import gc, json, sys
from vizcore import cli
from vizcore.cli import heap
seen = []
loading = heap.loading
def watched():  # record the collector's state inside each loading block
    cm = loading()
    class Probe:
        def __enter__(self):
            cm.__enter__(); seen.append(gc.isenabled())
        def __exit__(self, *exc):
            return cm.__exit__(*exc)
    return Probe()
heap.loading = watched
before = gc.get_freeze_count()
called = cli.main(["attention", {str(image)!r}, "--out", {str(tmp_path / "a.png")!r}])
from_python = {{"code": called, "frozen": gc.get_freeze_count() - before, "enabled": gc.isenabled()}}
sys.argv = ["vizcore", "attention", {str(image)!r}, "--out", {str(tmp_path / "b.png")!r}]
code = cli.main()
print(json.dumps({{"python": from_python, "code": code, "loading_enabled": seen[-2:], "enabled": gc.isenabled(),
                  "frozen": gc.get_freeze_count()}}))
"""
    out = _fresh(code)
    assert out["python"] == {"code": 0, "frozen": 0, "enabled": True}
    assert out["code"] == 0 and (tmp_path / "b.png").read_bytes() == (tmp_path / "a.png").read_bytes()
    assert out["loading_enabled"] == [False, False]  # parsing (the command's module) and loading the model
    assert out["enabled"] and out["frozen"] > 100_000
