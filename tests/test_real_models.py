"""Real pretrained models one step away (issue 12): the curated set, `vizcore download` against a loopback Hub,
`hf:` repos and `transformers` folders (labels, preprocessing, parity), checkpoints saved the official MAE / DINO way,
honest labels for narrow and random-weight models."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vizcore as vc
from tests.conftest import DINO_REPO, DINO_SPEC, served_state
from vizcore.cli import main
from vizcore.errors import ModelError, WeightsUnavailableError
from vizcore.models import curated as cur
from vizcore.models import out_of_domain_note

FAIL_FAST = 5.0  # seconds: the issue's bound for "no network" to reach the person
TOL = 1e-4
TINY = dict(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=64)
LABELS = {"id2label": {0: "cat", 1: "dog", 2: "bird"}, "label2id": {"cat": 0, "dog": 1, "bird": 2}}


# ---- the curated set ------------------------------------------------------------------------------------------------

def test_curated_set_covers_the_issue_and_its_records_match_timm():
    import timm

    specs = {c.spec for c in cur.CURATED}
    assert specs >= {"timm:vit_small_patch16_224.dino", "timm:vit_base_patch16_224.dino",
                     "timm:vit_small_patch14_reg4_dinov2.lvd142m", "timm:deit_small_distilled_patch16_224.fb_in1k",
                     "timm:vit_base_patch16_224.augreg2_in21k_ft_in1k", "timm:vit_base_patch16_clip_224.openai",
                     "timm:vit_base_patch16_224.mae", "hf:facebook/vit-mae-base"}
    for c in cur.CURATED:
        assert c.title and c.purpose and c.trained_on and c.licence and c.pages and c.kind in ("vit", "mae")
        if not c.spec.startswith("timm:"):
            continue
        name = c.spec[5:]
        cfg = timm.models.get_pretrained_cfg(name)
        assert cfg.hf_hub_id and c.licence == cfg.license  # downloadable from the Hub; licence as timm records it
        with torch.device("meta"):
            module = timm.create_model(name, pretrained=False)
        params = sum(t.numel() for t in module.state_dict().values())
        assert c.size_bytes == 4 * params  # the recorded size is the float32 parameter bytes of the architecture
    assert cur.lookup("hf:facebook/vit-mae-base").kind == "mae"


def test_what_needs_a_download_is_known_without_network(hub):
    assert cur.needs_download(DINO_SPEC) and not cur.weights_present(DINO_SPEC)
    for spec in ("bundled:tiny_vit", "file:/x.pth", "timm:not_a_model_xyz", "nonsense"):
        assert not cur.needs_download(spec)
    assert cur.estimated_bytes("timm:vit_tiny_patch16_224") == 4 * 5_717_416  # approx. for any timm name
    assert cur.estimated_bytes("hf:acme/unknown") is None
    assert not hub.log  # nothing above asked the Hub anything


# ---- `vizcore download` ---------------------------------------------------------------------------------------------

def test_cli_download_shows_the_size_then_progress_and_the_model_loads_the_served_weights(hub, dino_files, capsys,
                                                                                          monkeypatch):
    from huggingface_hub import constants

    with pytest.raises(WeightsUnavailableError, match=r"Download them \(≈87 MB\).*vizcore download " + DINO_SPEC):
        vc.load_model(DINO_SPEC)
    assert main(["download", DINO_SPEC]) == 0
    out, err = capsys.readouterr()
    total = sum(len(d) for d in dino_files.values())
    assert f"total {total / 1e6:.1f} MB" in out and "model.safetensors" in out and str(constants.HF_HUB_CACHE) in out
    mb = f"{total / 1e6:.1f}M"
    assert f"{mb}/{mb}" in err and "B/s" in err and "<00:00" in err  # tqdm: bytes done/total, rate, time left
    assert vc.models.weights_present(DINO_SPEC)

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # loading never needs the network
    handle = vc.load_model(DINO_SPEC)
    assert handle.info.pretrained and handle.info.title.startswith("DINO ViT-S/16") and not handle.has_head
    served = served_state(dino_files)
    assert all(torch.equal(v, served[k]) for k, v in handle.module.state_dict().items())
    assert main(["models"]) == 0
    assert "weights here" in capsys.readouterr().out

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    gets = len(hub.requests("GET", "/cdn/"))
    assert main(["download", DINO_SPEC]) == 0  # already here: nothing fetched again
    assert len(hub.requests("GET", "/cdn/")) == gets


def test_cli_download_errors_are_fast_clear_and_exit_2(hub, monkeypatch, capsys):
    from hubstub import closed_port, point_huggingface_hub_at

    assert main(["download", "bundled:tiny_vit"]) == 2
    assert "Downloads work for timm:<name>" in capsys.readouterr().err
    assert main(["download"]) == 2
    point_huggingface_hub_at(monkeypatch, f"http://127.0.0.1:{closed_port()}", Path(os.environ["HF_HOME"]))
    t0 = time.monotonic()
    assert main(["download", DINO_SPEC]) == 2
    assert time.monotonic() - t0 < FAIL_FAST
    err = capsys.readouterr().err
    assert "Could not reach" in err and "network connection" in err and "Traceback" not in err


def test_cli_download_dry_run_fetches_no_bytes(hub, capsys):
    assert main(["download", "--dry-run", DINO_SPEC]) == 0
    assert "total" in capsys.readouterr().out
    assert not hub.requests("GET", "/cdn/") and not vc.models.weights_present(DINO_SPEC)


# ---- transformers checkpoints: hf: repos, folders, Trainer output ---------------------------------------------------

def _hf_model(model_cls: str = "ViTForImageClassification", config_cls: str = "ViTConfig", seed: int = 0, **kw):
    T = pytest.importorskip("transformers")
    config = getattr(T, config_cls)(**{**TINY, **kw})
    model = getattr(T, model_cls)._from_config(config, attn_implementation="eager").eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5 + (1.0 if "norm" in name and name.endswith("weight")
                                                                 else 0.0))
    return model


def _save_classifier(folder: Path, seed: int = 0, mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6)):
    T = pytest.importorskip("transformers")
    model = _hf_model(seed=seed, **LABELS)
    model.save_pretrained(folder)
    T.ViTImageProcessor(size={"height": 32, "width": 32}, image_mean=list(mean), image_std=list(std)).save_pretrained(
        folder)
    return model


def _assert_matches_transformers(handle, hf_model, x: torch.Tensor) -> None:
    """Logits and every layer's attention of the vizcore handle equal transformers' eager forward within 1e-4."""
    pixels = handle.normalize(x)
    with torch.no_grad():
        ref = hf_model(pixel_values=pixels, output_attentions=True)
    logits = handle.forward(x)
    maps = vc.attention.capture(handle, x)
    assert (logits - ref.logits).abs().max() < TOL
    assert maps.attn.shape[1] == len(ref.attentions)
    for layer, theirs in enumerate(ref.attentions):
        assert (maps.attn[:, layer] - theirs).abs().max() < TOL


def test_transformers_classifier_folder_opens_with_its_labels_and_matches_transformers(tmp_path):
    hf_model = _save_classifier(tmp_path / "vit-finetuned")
    handle = vc.load_model(f"file:{tmp_path / 'vit-finetuned'}")
    assert isinstance(handle, vc.models.ViTHandle)
    assert handle.class_names == ("cat", "dog", "bird")
    assert handle.preprocess.size == (32, 32) and handle.preprocess.mean == pytest.approx((0.1, 0.2, 0.3))
    assert handle.preprocess.std == pytest.approx((0.4, 0.5, 0.6))
    assert handle.info.kind == "vit" and "ViTForImageClassification" in handle.info.title and handle.info.pretrained
    _assert_matches_transformers(handle, hf_model, torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(3)))
    assert handle.info.domain == ""  # no card: vizcore does not claim to know its domain

    twin = vc.models.random_twin(f"file:{tmp_path / 'vit-finetuned'}")
    assert not twin.info.pretrained and "(random weights)" in twin.info.title and twin.class_names == handle.class_names
    again = vc.models.random_twin(f"file:{tmp_path / 'vit-finetuned'}")
    sd, sd2, own = twin.module.state_dict(), again.module.state_dict(), handle.module.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)  # seeded: the same baseline every time
    assert all(not torch.equal(sd[k], own[k]) for k in sd if sd[k].numel() > 8 and not k.startswith("norm"))


def test_trainer_output_folder_opens_its_newest_checkpoint_with_labels(tmp_path):
    run = tmp_path / "run"
    models = {step: _hf_model(seed=step, **LABELS) for step in (5, 40)}
    for step, model in models.items():
        model.save_pretrained(run / f"checkpoint-{step}")
        (run / f"checkpoint-{step}" / "optimizer.pt").write_bytes(b"never read")
        (run / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    handle = vc.load_model(f"file:{run}")
    assert handle.class_names == ("cat", "dog", "bird")
    _assert_matches_transformers(handle, models[40], torch.rand(1, 3, 32, 32))


def test_hf_spec_downloads_on_request_through_the_stub_and_loads_exactly(hub, tmp_path, capsys):
    folder = tmp_path / "repo"
    hf_model = _save_classifier(folder, seed=7)
    hub.add_repo("acme/vit-tiny-pets", {p.name: p.read_bytes() for p in folder.iterdir()})
    spec = "hf:acme/vit-tiny-pets"
    with pytest.raises(WeightsUnavailableError, match="vizcore download hf:acme/vit-tiny-pets"):
        vc.load_model(spec)
    assert not hub.log  # loading alone asked nothing
    assert vc.models.needs_download(spec)
    assert main(["download", spec]) == 0
    assert "preprocessor_config.json" in capsys.readouterr().out
    handle = vc.load_model(spec)
    assert handle.info.spec == spec and handle.class_names == ("cat", "dog", "bird")
    assert handle.preprocess.mean == pytest.approx((0.1, 0.2, 0.3))
    _assert_matches_transformers(handle, hf_model, torch.rand(1, 3, 32, 32))


def test_mae_pretraining_folder_is_the_full_mae_with_its_decoder(tmp_path):
    hf_model = _hf_model("ViTMAEForPreTraining", "ViTMAEConfig", mask_ratio=0.75, decoder_hidden_size=16,
                         decoder_num_hidden_layers=1, decoder_intermediate_size=32, decoder_num_attention_heads=2)
    hf_model.save_pretrained(tmp_path / "mae")
    handle = vc.load_model(f"file:{tmp_path / 'mae'}")
    assert handle.info.kind == "mae" and handle.can_reconstruct and handle.cfg.decoder_num_heads == 2
    r = vc.mae.reconstruct(handle, torch.rand(1, 3, 32, 32), mask_ratio=0.75)
    assert r.kept == 4 and r.reconstruction.shape == (1, 3, 32, 32)


# ---- checkpoints saved by the official training scripts -------------------------------------------------------------

MAE_CFG = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, decoder_embed_dim=16, decoder_depth=1,
               decoder_num_heads=16)


def _official_mae_checkpoint(path: Path, args: argparse.Namespace | None) -> None:
    """Saved as facebookresearch/mae's misc.save_model does: model, optimizer, epoch, scaler, args."""
    torch.manual_seed(0)
    model = vc.mae.MaskedAutoencoder(vc.mae.MaeConfig(**MAE_CFG))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(2, 3, 32, 32))[0].backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7,
            "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000,
                       "_growth_tracker": 0}}
    if args is not None:
        ckpt["args"] = args
    torch.save(ckpt if args is not None else {"model": model.state_dict()}, path)


def _red_patch_colour(handle) -> tuple[float, ...]:
    """Reconstruct a pure red image with a decoder that predicts the exact per-patch-normalised target (what an
    ideal norm_pix_loss model outputs): the colour the hidden patches come back with."""
    red = torch.zeros(1, 3, 32, 32)
    red[:, 0] = 1.0
    target = vc.mae.patchify(handle.normalize(handle.prepare(red)), handle.cfg.patch_size)  # (1, L, p*p*3)
    ideal = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
    handle.mae.forward_decoder = lambda latent, ids_restore: ideal
    r = vc.mae.reconstruct(handle, red, mask_ratio=0.75)
    hidden = r.mask[0].bool()
    return tuple(r.pred[0][hidden].reshape(-1, 3).mean(0).tolist())  # (3,) mean colour of hidden patches


def test_official_mae_checkpoint_reads_norm_pix_loss_from_its_args(tmp_path):
    path = tmp_path / "checkpoint-7.pth"
    _official_mae_checkpoint(path, argparse.Namespace(model="mae_vit_tiny", norm_pix_loss=True, mask_ratio=0.75,
                                                      output_dir="./output_dir", lr=None))
    handle = vc.load_model(f"file:{path}?heads=2")
    assert handle.cfg.norm_pix_loss and handle.can_reconstruct
    assert _red_patch_colour(handle) == pytest.approx((1.0, 0.0, 0.0), abs=5e-3)


def test_mae_checkpoint_without_args_takes_norm_pix_loss_from_the_spec(tmp_path):
    path = tmp_path / "weights_only.pth"
    _official_mae_checkpoint(path, None)
    plain = vc.load_model(f"file:{path}?heads=2")
    assert not plain.cfg.norm_pix_loss  # nothing says otherwise: the wrong colour, as the issue measured
    assert _red_patch_colour(plain) == pytest.approx((0.81, 0.28, 0.26), abs=0.01)
    told = vc.load_model(f"file:{path}?heads=2&norm_pix_loss=1")
    assert told.cfg.norm_pix_loss and _red_patch_colour(told) == pytest.approx((1.0, 0.0, 0.0), abs=5e-3)
    with pytest.raises(ModelError, match="norm_pix_loss=maybe .*yes/no"):
        vc.load_model(f"file:{path}?heads=2&norm_pix_loss=maybe")


@pytest.mark.parametrize("layout", ["backbone", "dino-training"])
def test_self_supervised_backbone_checkpoint_loads_headless_with_arch(tmp_path, layout):
    import timm

    torch.manual_seed(0)
    backbone = timm.create_model("test_vit", pretrained=False, num_classes=0)  # timm's smallest ViT
    sd = backbone.state_dict()
    path = tmp_path / "dino.pth"
    if layout == "backbone":  # like dino_deitsmall16_pretrain.pth: the teacher backbone alone
        torch.save(sd, path)
    else:  # like DINO's checkpoint.pth: student / teacher MultiCropWrappers (+ projection head) and args
        wrapped = {f"backbone.{k}": v for k, v in sd.items()} | {"head.last_layer.weight_g": torch.ones(1, 8)}
        torch.save({"student": wrapped, "teacher": wrapped, "epoch": 100, "args": argparse.Namespace(arch="vit")},
                   path)
    handle = vc.load_model(f"file:{path}?arch=test_vit")
    assert not handle.has_head and "no head" in handle.info.title and handle.info.pretrained
    assert all(torch.equal(v, sd[k]) for k, v in handle.module.state_dict().items())
    assert handle.forward(torch.rand(1, 3, 160, 160)).shape == (1, backbone.num_features)


# ---- honest labels --------------------------------------------------------------------------------------------------

def test_narrow_bundled_models_say_when_an_image_is_outside_their_domain(bundled):
    assert bundled.info.domain == "scenes" and "shapes" in bundled.info.trained_on
    note = out_of_domain_note(bundled, None, what="your upload")
    assert note is not None and "not meaningful" in note.text and "Your upload" in note.text
    assert "one of its 8 classes" in note.text and note.suggestion.spec == DINO_SPEC
    assert out_of_domain_note(bundled, "photos") is not None
    assert out_of_domain_note(bundled, "scenes") is None  # its own domain: the answer means something
    assert out_of_domain_note(vc.load_model("bundled:tiny_vit", pretrained=False), None) is None  # labelled random
    assert out_of_domain_note(cur.lookup(DINO_SPEC).info(offline=False), None) is None  # broad models: no note
    digits = vc.load_model("bundled:ae_2d")
    assert digits.info.domain == "digits" and out_of_domain_note(digits, "scenes").suggestion is None
    infos = {i.spec: i for i in vc.list_models()}
    assert infos["bundled:vae_10d"].domain == "sprites" and infos["bundled:tiny_mae"].domain == "scenes"


def _scene(tmp_path: Path) -> Path:
    from vizcore.data.scenes import sample_scenes

    path = tmp_path / "scene.png"
    sample_scenes()[0][1].save(path)
    return path


def test_cli_random_weights_are_labelled_in_the_png_and_the_npy_sidecar(tmp_path, capsys):
    img = _scene(tmp_path)
    for flag, name in (([], "trained"), (["--random-weights"], "random")):
        code = main(["attention", str(img), "--out", str(tmp_path / f"{name}.png"), "--npy",
                     str(tmp_path / f"{name}.npy"), *flag])
        assert code == 0, capsys.readouterr().err
    trained, random = (np.asarray(Image.open(tmp_path / f"{n}.png")) for n in ("trained", "random"))
    band = random.shape[0] - trained.shape[0]
    assert band > 0 and random.shape[1] == trained.shape[1]  # the label is in the picture, above the map
    assert (np.abs(random[2:band - 2, :, :].reshape(-1, 3).astype(int) - (178, 24, 43)).sum(1) < 10).mean() > 0.5
    meta = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in ("trained", "random")}
    assert meta["random"]["pretrained"] is False and "RANDOM" in meta["random"]["weights"]
    assert meta["trained"]["pretrained"] is True and meta["trained"]["model"] == "bundled:tiny_vit"
    assert meta["random"]["shape"] == list(np.load(tmp_path / "random.npy").shape)
    assert "note: random weights" in capsys.readouterr().out

    assert main(["mae", str(img), "--random-weights", "--out", str(tmp_path / "mae.png")]) == 0
    assert main(["mae", str(img), "--out", str(tmp_path / "mae_trained.png")]) == 0
    mae_random, mae_trained = (np.asarray(Image.open(tmp_path / n)) for n in ("mae.png", "mae_trained.png"))
    assert mae_random.shape[0] > mae_trained.shape[0] and tuple(mae_random[10, 3]) == (178, 24, 43)


def test_dino_served_by_the_shared_hub_is_the_real_layout(dino_files):
    import safetensors.torch

    state = safetensors.torch.load(dino_files["model.safetensors"])
    assert state["pos_embed"].shape == (1, 197, 384) and len(state) == 150 and "head.weight" not in state
    assert DINO_REPO == "timm/vit_small_patch16_224.dino"


def test_download_help_has_an_example(capsys):
    with pytest.raises(SystemExit) as e:
        main(["download", "--help"])
    assert e.value.code == 0 and "Example: vizcore download timm:" in capsys.readouterr().out
