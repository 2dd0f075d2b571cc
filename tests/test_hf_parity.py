"""Parity: transformers ViT-family folders converted to timm equal transformers' own eager forward.

Every case builds a tiny random config in-process (no downloads), gives every parameter a distinct random value
(so a swapped norm, bias or q/k/v slice cannot hide behind default inits), saves it with `save_pretrained`, loads
it with `vizcore.models.hf_transformers`, and compares logits / last_hidden_state and every layer's attention
probabilities within 1e-4.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

T = pytest.importorskip("transformers")

from vizcore.errors import CheckpointError, ModelError  # noqa: E402
from vizcore.models.hf_transformers import (  # noqa: E402
    IMAGENET_MEAN,
    is_transformers_folder,
    load_transformers_folder,
    resolve_trainer_folder,
)

TOL = 1e-4
TINY = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64)
LABELS = {"id2label": {2: "bird", 0: "cat", 1: "dog"}, "label2id": {"cat": 0, "dog": 1, "bird": 2}}  # unordered

CASES = {  # name: (model class, config class, config overrides)
    "vit-classifier": ("ViTForImageClassification", "ViTConfig", dict(hidden_size=36, num_attention_heads=3, **LABELS)),
    "vit-nonsquare-no-qkv-bias": ("ViTModel", "ViTConfig", dict(image_size=[32, 48], qkv_bias=False)),
    "deit": ("DeiTModel", "DeiTConfig", {}),
    "deit-classifier": ("DeiTForImageClassification", "DeiTConfig", LABELS),
    "deit-with-teacher": ("DeiTForImageClassificationWithTeacher", "DeiTConfig", LABELS),
    "dinov2": ("Dinov2Model", "Dinov2Config", dict(num_hidden_layers=3, hidden_size=48, num_attention_heads=4)),
    "dinov2-registers": ("Dinov2WithRegistersModel", "Dinov2WithRegistersConfig", dict(num_register_tokens=4)),
    "vit-mae": ("ViTMAEModel", "ViTMAEConfig", dict(mask_ratio=0.0)),
    "vit-mae-pretraining": ("ViTMAEForPreTraining", "ViTMAEConfig", dict(mask_ratio=0.0, decoder_hidden_size=16,
                                                                         decoder_num_hidden_layers=1,
                                                                         decoder_intermediate_size=32)),
}


def _hf_model(model_cls: str, config_cls: str, seed: int = 0, **overrides):
    config = getattr(T, config_cls)(**{**TINY, **overrides})
    model = getattr(T, model_cls)._from_config(config, attn_implementation="eager").eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen) * 0.5
            param.copy_(noise + 1.0 if "norm" in name and name.endswith("weight") else noise)
    return model


def _save(model, folder: Path, processor=None) -> Path:
    model.save_pretrained(folder)
    if processor is not None:
        processor.save_pretrained(folder)
    return folder


def _timm_forward(module, pixels: torch.Tensor):
    """(features incl. final norm, head output, per-layer attention probabilities) the way vizcore captures them."""
    attn, hooks = [], []
    for block in module.blocks:
        block.attn.fused_attn = False
        hooks.append(block.attn.attn_drop.register_forward_hook(lambda _m, _i, out: attn.append(out)))
    try:
        with torch.no_grad():
            feats = module.forward_features(pixels)  # (B, N, D)
            logits = module.forward_head(feats)
    finally:
        for h in hooks:
            h.remove()
    return feats, logits, attn


def _hf_forward(model, pixels: torch.Tensor):
    """(last_hidden_state, logits or None, attentions) from transformers; ViTMAE gets an identity shuffle."""
    kwargs = {"output_attentions": True}
    if model.config.model_type == "vit_mae":
        num_patches = model.base_model.embeddings.patch_embeddings.num_patches
        kwargs["noise"] = torch.arange(num_patches, dtype=torch.float32).expand(pixels.shape[0], -1)  # no shuffle
    with torch.no_grad():
        base = model.base_model(pixels, **kwargs)
        logits = model(pixels).logits if hasattr(model, "classifier") or hasattr(model, "cls_classifier") else None
    return base.last_hidden_state, logits, base.attentions


def _assert_parity(name: str, hf_model, module, pixels: torch.Tensor) -> None:
    hf_feats, hf_logits, hf_attn = _hf_forward(hf_model, pixels)
    feats, logits, attn = _timm_forward(module, pixels)
    assert feats.shape == hf_feats.shape
    diffs = [(feats - hf_feats).abs().max().item()]
    if hf_logits is not None:
        assert logits.shape == hf_logits.shape
        diffs.append((logits - hf_logits).abs().max().item())
    assert len(attn) == len(hf_attn) == hf_model.config.num_hidden_layers
    for ours, theirs in zip(attn, hf_attn):
        assert ours.shape == theirs.shape  # (B, H, N, N)
        diffs.append((ours - theirs).abs().max().item())
    print(f"parity {name}: max abs diff {max(diffs):.2e}")  # shown with pytest -s
    assert max(diffs) < TOL, f"{name}: max abs diff {max(diffs):.2e}"


@pytest.mark.parametrize("case", list(CASES))
def test_parity_with_transformers_eager(case, tmp_path):
    model_cls, config_cls, overrides = CASES[case]
    hf_model = _hf_model(model_cls, config_cls, **overrides)
    loaded = load_transformers_folder(_save(hf_model, tmp_path / case))
    assert not loaded.module.training
    assert loaded.model_type == hf_model.config.model_type and loaded.architecture == model_cls
    size = loaded.image_size
    pixels = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(1))
    _assert_parity(case, hf_model, loaded.module, pixels)
    num_registers = overrides.get("num_register_tokens", 0)
    assert loaded.module.num_prefix_tokens == 1 + ("deit" in case) + num_registers


def test_class_names_and_preprocessing_from_the_folder(tmp_path):
    hf_model = _hf_model("ViTForImageClassification", "ViTConfig", **LABELS)
    processor = T.ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.1, 0.2, 0.3],
                                    image_std=[0.4, 0.5, 0.6])
    loaded = load_transformers_folder(_save(hf_model, tmp_path / "m", processor))
    assert loaded.class_names == ("cat", "dog", "bird")
    assert loaded.image_size == (32, 32)
    assert loaded.mean == pytest.approx((0.1, 0.2, 0.3)) and loaded.std == pytest.approx((0.4, 0.5, 0.6))
    assert loaded.ignored == ()


def test_without_a_preprocessor_the_config_size_and_imagenet_stats_apply(tmp_path):
    loaded = load_transformers_folder(_save(_hf_model("ViTModel", "ViTConfig", image_size=[32, 48]), tmp_path))
    assert loaded.image_size == (32, 48) and loaded.mean == IMAGENET_MEAN
    assert loaded.module.patch_embed.grid_size == (4, 6)  # rows x columns, read by vizcore's token layout
    assert loaded.class_names is None
    assert any("pooler" in reason for reason in loaded.ignored)  # ViTModel's pooler: skipped knowingly, and said so


@pytest.mark.parametrize(("model_cls", "config_cls", "extra"), [
    ("Dinov2Model", "Dinov2Config", {}),
    ("Dinov2WithRegistersModel", "Dinov2WithRegistersConfig", {"num_register_tokens": 2}),
])
def test_dinov2_crop_smaller_than_config_matches_transformers_interpolation(model_cls, config_cls, extra, tmp_path):
    """DINOv2 checkpoints say image_size 518 and crop to 224: the module runs at the crop, as transformers does."""
    hf_model = _hf_model(model_cls, config_cls, image_size=48, **extra)
    processor = T.BitImageProcessor(size={"shortest_edge": 40}, crop_size={"height": 32, "width": 32})
    loaded = load_transformers_folder(_save(hf_model, tmp_path, processor))
    assert loaded.image_size == (32, 32) and loaded.module.patch_embed.grid_size == (4, 4)
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    _assert_parity(f"{model_cls}-resized", hf_model, loaded.module, pixels)


def test_mae_with_random_noise_returns_the_same_tokens_shuffled(tmp_path):
    """Documents transformers: mask_ratio 0.0 keeps every patch but still reorders them by random noise."""
    hf_model = _hf_model("ViTMAEModel", "ViTMAEConfig", mask_ratio=0.0)
    module = load_transformers_folder(_save(hf_model, tmp_path)).module
    pixels = torch.randn(2, 3, 32, 32)
    torch.manual_seed(0)
    with torch.no_grad():
        out = hf_model(pixels)  # random noise -> per-image random patch order
        ours = module.forward_features(pixels)  # (B, 1 + N, D) in raster order
    restore = out.ids_restore.unsqueeze(-1).expand(-1, -1, ours.shape[-1])  # (B, N, D)
    unshuffled = torch.gather(out.last_hidden_state[:, 1:], 1, restore)
    assert out.mask.sum() == 0 and (out.last_hidden_state[:, 1:] - ours[:, 1:]).abs().max() > 1e-2  # reordered
    assert (unshuffled - ours[:, 1:]).abs().max() < TOL and (out.last_hidden_state[:, 0] - ours[:, 0]).abs().max() < TOL


def test_mae_pretraining_folder_gives_the_encoder_and_names_the_skipped_decoder(tmp_path):
    _, _, overrides = CASES["vit-mae-pretraining"]
    loaded = load_transformers_folder(_save(_hf_model("ViTMAEForPreTraining", "ViTMAEConfig", **overrides), tmp_path))
    assert any("decoder" in reason for reason in loaded.ignored)


class _Payload:
    """Creates `marker` if anything ever unpickles it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_trainer_folder_opens_the_newest_checkpoint_and_never_unpickles_training_state(tmp_path):
    proof = tmp_path / "payload-works"
    pickle.loads(pickle.dumps(_Payload(proof)))
    assert proof.exists()  # the payload really runs code when unpickled

    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    models = {}
    for step in (2, 10):
        models[step] = _hf_model("ViTForImageClassification", "ViTConfig", seed=step, **LABELS)
        ckpt = _save(models[step], run / f"checkpoint-{step}")
        for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"):
            (ckpt / name).write_bytes(pickle.dumps(_Payload(marker)))
        (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    (run / "checkpoint-7-notes").mkdir()  # not a checkpoint folder
    T.ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=[0.1, 0.2, 0.3]).save_pretrained(run)
    assert is_transformers_folder(run)
    assert resolve_trainer_folder(run) == run / "checkpoint-10"
    loaded = load_transformers_folder(run)
    assert loaded.folder == run / "checkpoint-10" and loaded.class_names == ("cat", "dog", "bird")
    assert loaded.mean == pytest.approx((0.1, 0.2, 0.3))  # the run's own processor, saved next to the checkpoints
    pixels = torch.randn(1, 3, 32, 32)
    _assert_parity("trainer-checkpoint-10", models[10], loaded.module, pixels)
    assert not marker.exists()

    _save(models[2], run)  # trainer.save_model(run): the run's own top-level weights win over checkpoints
    assert resolve_trainer_folder(run) == run
    _assert_parity("trainer-top-level", models[2], load_transformers_folder(run).module, pixels)
    assert not marker.exists()


@pytest.mark.parametrize(("model_cls", "config_cls"), [
    ("DeiTForImageClassificationWithTeacher", "DeiTConfig"), ("Dinov2Model", "Dinov2Config"),
])
def test_pytorch_model_bin_with_in_memory_names_is_read_with_weights_only(model_cls, config_cls, tmp_path):
    """A bare torch.save(model.state_dict()) from transformers>=5 uses the in-memory names (layers.N.q_proj ...)."""
    hf_model = _hf_model(model_cls, config_cls, **LABELS)
    folder = _save(hf_model, tmp_path / "bin")
    (folder / "model.safetensors").unlink()
    torch.save(hf_model.state_dict(), folder / "pytorch_model.bin")
    assert any(".q_proj." in key for key in hf_model.state_dict())
    _assert_parity(f"{model_cls} pytorch_model.bin", hf_model, load_transformers_folder(folder).module,
                   torch.randn(1, 3, 32, 32))

    marker = tmp_path / "PWNED"
    torch.save({"w": torch.zeros(1), "evil": _Payload(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="could run code"):
        load_transformers_folder(folder)
    assert not marker.exists()


@pytest.mark.parametrize(("model_cls", "config_cls", "overrides", "message"), [
    ("Dinov2Model", "Dinov2Config", {"use_swiglu_ffn": True}, "SwiGLU"),
    ("Dinov2ForImageClassification", "Dinov2Config", LABELS, "concat"),
    ("ViTModel", "ViTConfig", {"hidden_act": "relu"}, "hidden_act 'relu'"),
])
def test_unsupported_variants_raise_a_clear_error(model_cls, config_cls, overrides, message, tmp_path):
    folder = _save(_hf_model(model_cls, config_cls, **overrides), tmp_path)
    with pytest.raises(ModelError, match=message):
        load_transformers_folder(folder)


def test_unknown_model_type_is_refused_by_name(tmp_path):
    folder = _save(_hf_model("ViTModel", "ViTConfig"), tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "swin"}))
    assert is_transformers_folder(folder)  # it is a transformers folder, just not one vizcore converts
    with pytest.raises(ModelError, match="model_type 'swin'.*timm:"):
        load_transformers_folder(folder)


def test_weights_the_mapping_cannot_place_are_an_error_not_dropped(tmp_path):
    from safetensors.torch import load_file, save_file

    folder = _save(_hf_model("ViTModel", "ViTConfig"), tmp_path)
    state = load_file(folder / "model.safetensors")
    state["encoder.layer.0.attention.attention.q_norm.weight"] = torch.ones(16)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="q_norm"):
        load_transformers_folder(folder)


@pytest.mark.parametrize("change", [{"num_hidden_layers": 3}, {"hidden_size": 48}, {"image_size": 40}, {"head_dim": 8}])
def test_config_that_does_not_describe_the_weights_is_a_checkpoint_error(change, tmp_path):
    folder = _save(_hf_model("ViTModel", "ViTConfig"), tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(CheckpointError, match="do not fit config.json"):
        load_transformers_folder(folder)


def test_corrupt_safetensors_is_a_checkpoint_error(tmp_path):
    folder = _save(_hf_model("ViTModel", "ViTConfig"), tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors is truncated or corrupt"):
        load_transformers_folder(folder)
    (folder / "model.safetensors").write_bytes(b"\x00not a safetensors file at all")
    with pytest.raises(CheckpointError, match="Download or save it again"):
        load_transformers_folder(folder)


def test_folder_detection(tmp_path):
    assert not is_transformers_folder(tmp_path)
    assert not is_transformers_folder(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{not json")
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert not is_transformers_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no model.safetensors"):
        resolve_trainer_folder(tmp_path / "empty")


@pytest.mark.parametrize("eps", [None, 0.05])  # transformers' default 1e-12, and a config that sets its own
def test_mae_pretraining_folder_as_the_full_mae_matches_transformers(eps, tmp_path):
    """A ViTMAEForPreTraining folder becomes our MAE (encoder and decoder) with the config's LayerNorm eps: the
    release's 1e-6 was used for every MAE, transformers' is `layer_norm_eps` (1e-12 unless the config says)."""
    import vizcore as vc

    extra = {} if eps is None else {"layer_norm_eps": eps}
    hf_model = _hf_model("ViTMAEForPreTraining", "ViTMAEConfig", mask_ratio=0.75, decoder_hidden_size=16,
                         decoder_num_hidden_layers=1, decoder_intermediate_size=32, decoder_num_attention_heads=2,
                         **extra)
    handle = vc.load_model(f"file:{_save(hf_model, tmp_path)}")
    want = hf_model.config.layer_norm_eps
    norms = [m for m in [*handle.mae.modules(), *handle.module.modules()] if isinstance(m, torch.nn.LayerNorm)]
    assert norms and {m.eps for m in norms} == {want}  # the MAE and the encoder the attention pages use
    pixels = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    noise = torch.rand(2, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        theirs = hf_model(pixels, noise=noise)
        _, pred, mask, _ = handle.mae(pixels, mask_ratio=0.75, noise=noise)
    assert torch.equal(mask, theirs.mask)
    assert (pred - theirs.logits).abs().max() < TOL
