"""Model registry, the three spec schemes, safe checkpoints and token layouts read from the model."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import save_file

import vizcore as vc
from tests.conftest import tiny_handle
from vizcore.errors import CheckpointError, InputError, ModelError
from vizcore.models import AutoencoderHandle, ViTHandle


@pytest.mark.parametrize("spec", ["", "vit", "nope:thing", "timm:", "bundled:"])
def test_bad_specs_say_what_a_spec_is(spec):
    with pytest.raises(ModelError, match="bundled:<name>|No bundled model|timm has no model"):
        vc.load_model(spec)


def test_unknown_timm_name_suggests_close_names():
    with pytest.raises(ModelError, match="Did you mean"):
        vc.load_model("timm:vit_smal_patch16_224")


def test_missing_timm_weights_fail_fast_without_network(tmp_path):
    env = {**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "0"}
    code = (
        "import time, vizcore as vc\n"
        "t = time.time()\n"
        "try:\n    vc.load_model('timm:vit_base_patch16_224.augreg2_in21k_ft_in1k')\n"
        "except vc.VizcoreError as e:\n    print(type(e).__name__, round(time.time() - t, 2), e)\n"
    )
    t = time.time()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "WeightsUnavailableError" in out.stdout, out.stderr
    assert "random weights" in out.stdout
    assert float(out.stdout.split()[1]) < 10 and time.time() - t < 60


def test_random_weights_are_labelled():
    h = vc.load_model("timm:vit_tiny_patch16_224", pretrained=False)
    assert h.info.pretrained is False and "random weights" in h.info.title


def test_timm_weights_from_the_local_cache(tmp_path, monkeypatch):
    """A file found in the (fake) HF cache loads as pretrained, through timm's own filter; a wrong one is refused."""
    from vizcore.models import timm_source

    src = vc.load_model("timm:vit_tiny_patch16_224", pretrained=False)
    good, bad = tmp_path / "good.safetensors", tmp_path / "bad.safetensors"
    save_file({k: v.contiguous() for k, v in src.module.state_dict().items()}, str(good))
    save_file({k: v.contiguous() for k, v in tiny_handle("cls", 224).module.state_dict().items()}, str(bad))
    monkeypatch.setattr(timm_source, "cached_weights", lambda name: str(good))
    loaded = timm_source.load_timm("vit_tiny_patch16_224")
    assert loaded.info.pretrained
    assert all(torch.equal(loaded.module.state_dict()[k], v) for k, v in src.module.state_dict().items())
    monkeypatch.setattr(timm_source, "cached_weights", lambda name: str(bad))
    with pytest.raises(CheckpointError, match="do not fit"):  # depth-2 weights into a depth-12 model
        timm_source.load_timm("vit_tiny_patch16_224")


def test_list_models_has_bundled_and_curated():
    specs = {i.spec for i in vc.list_models()}
    assert "timm:vit_small_patch16_224.dino" in specs
    assert any(s.startswith("bundled:") for s in specs)


@pytest.mark.parametrize("name,prefix,names", [
    ("vit_tiny_patch16_224", 1, ("cls",)),
    ("deit_tiny_distilled_patch16_224", 2, ("cls", "dist")),
    ("vit_small_patch14_reg4_dinov2", 5, ("cls", "reg1", "reg2", "reg3", "reg4")),
])
def test_token_layout_read_from_model(name, prefix, names):
    h = vc.load_model(f"timm:{name}", pretrained=False)
    lay = h.layout((224, 336)) if name.endswith("224") else h.layout((518, 266))
    assert lay.num_prefix_tokens == prefix and lay.prefix_names == names
    ph, pw = lay.patch_size
    assert lay.grid == ((224 // ph, 336 // pw) if name.endswith("224") else (518 // ph, 266 // pw))


# ---- file: checkpoints --------------------------------------------------------------------------------------

def _save_tiny(tmp_path, suffix=".safetensors"):
    h = vc.load_model("timm:vit_tiny_patch16_224", pretrained=False)
    sd = {k: v.contiguous() for k, v in h.module.state_dict().items()}
    path = tmp_path / f"w{suffix}"
    if suffix == ".safetensors":
        save_file(sd, str(path))
    else:
        torch.save({"model": sd, "epoch": 3}, path)
    return h, path


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_file_checkpoint_with_timm_arch_loads_exact_weights(tmp_path, suffix):
    h, path = _save_tiny(tmp_path, suffix)
    loaded = vc.load_model(f"file:{path}?arch=vit_tiny_patch16_224")
    for k, v in h.module.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[k], v)
    assert loaded.info.spec.startswith("file:")


def test_file_without_architecture_says_how_to_name_one(tmp_path):
    _, path = _save_tiny(tmp_path)
    with pytest.raises(ModelError, match="arch="):
        vc.load_model(f"file:{path}")


def test_wrong_architecture_lists_missing_and_unexpected_keys(tmp_path):
    _, path = _save_tiny(tmp_path)
    with pytest.raises(CheckpointError, match=r"missing keys .*unexpected keys|shape mismatches"):
        vc.load_model(f"file:{path}?arch=vit_small_patch16_224")


def test_truncated_safetensors_is_refused(tmp_path):
    _, path = _save_tiny(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        vc.load_model(f"file:{path}?arch=vit_tiny_patch16_224")


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # would create the marker file when unpickled


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"model": {"w": _RunsCode(str(marker))}}, f)
    with pytest.raises(CheckpointError, match="could run code"):
        vc.load_model(f"file:{path}?arch=vit_tiny_patch16_224")
    assert not marker.exists()


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(CheckpointError, match="No checkpoint file"):
        vc.load_model(f"file:{tmp_path / 'nope.safetensors'}?arch=vit_tiny_patch16_224")
    odd = tmp_path / "w.onnx"
    odd.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unsupported"):
        vc.load_model(f"file:{odd}?arch=vit_tiny_patch16_224")


def test_import_vizcore_does_not_import_streamlit():
    code = "import sys, vizcore; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# ---- the two protocols: every handle is exactly one of them ---------------------------------------------------------

def _bundled_specs() -> list[str]:
    return [i.spec for i in vc.list_models() if i.spec.startswith("bundled:")]


@pytest.mark.parametrize("spec", _bundled_specs())
def test_every_bundled_model_is_exactly_one_protocol(spec: str) -> None:
    for pretrained in (True, False):
        handle = vc.load_model(spec, pretrained=pretrained)
        kinds = [isinstance(handle, ViTHandle), isinstance(handle, AutoencoderHandle)]
        assert sum(kinds) == 1, f"{spec} satisfies {kinds} of (ViTHandle, AutoencoderHandle)"
        assert isinstance(handle, vc.ModelHandle)
        assert kinds[0] == (handle.info.kind in ("vit", "mae"))


@pytest.mark.parametrize("kind,n_prefix", [("cls", 1), ("distilled", 2), ("registers", 5)])
def test_tiny_timm_vits_are_vit_handles_with_their_prefix_tokens(kind: str, n_prefix: int) -> None:

    h = tiny_handle(kind)
    assert isinstance(h, ViTHandle) and not isinstance(h, AutoencoderHandle)
    x = h.prepare(torch.rand(2, 3, 64, 64))
    layout = h.layout(tuple(x.shape[-2:]))
    assert layout.num_prefix_tokens == n_prefix
    outs = h.intermediates(x, [-1, 0, -1])  # request order and repeats are kept
    assert [tuple(t.shape) for t in outs] == [(2, layout.num_tokens, h.module.embed_dim)] * 3
    assert torch.equal(outs[0], outs[2])
    with torch.inference_mode():
        ref = h.module.forward_features(h.normalize(x))  # the final norm of the last block's output
    torch.testing.assert_close(h.module.norm(outs[0]), ref, rtol=1e-5, atol=1e-5)


def test_intermediates_refuses_a_layer_the_model_does_not_have() -> None:
    h = tiny_handle("cls")
    with pytest.raises(InputError, match="does not exist"):
        h.intermediates(h.prepare(torch.rand(1, 3, 64, 64)), [5])
