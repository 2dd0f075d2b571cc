"""Hostile checkpoints and model specs for the hostile corpus (`tests.hostile_corpus`): pickles that would run
code, truncated and wrong-architecture weights, broken model cards, bad specs."""

from __future__ import annotations

import io
import json
import pickle
import struct
from pathlib import Path

from tests.hostile_cases import APP_CHECKPOINTS, ARCH, ERROR, LOAD_MODEL, OK, REAL_ARCH, Case, write_file

# --- checkpoints and specs: load_model ------------------------------------------------------------------------


class _RunsCode:
    """Unpickling this calls open(marker, "w"): proof that a loader executed code from the file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def _models_dir() -> Path:
    from vizcore.models.bundled import models_dir

    return models_dir()


def checkpoint_cases(d: Path) -> list[Case]:
    import torch

    src = _models_dir()
    vit_w, vit_card = src / "tiny_vit.safetensors", json.loads((src / "tiny_vit.json").read_text())
    cases: list[Case] = []

    def add(name: str, expect: str, raw: bytes | None, suffix: str, query: str = "", card: dict | None = None,
            error: str = "VizcoreError", marker: Path | None = None, note: str = "", **extra: object) -> None:
        path = d / name / f"weights{suffix}"
        files = [write_file(path, raw if raw is not None else vit_w.read_bytes())]
        if card is not None:
            files.append(write_file(path.with_suffix(".json"), json.dumps(card).encode()))
        cases.append(Case(f"ckpt_{name}", LOAD_MODEL, f"file:{path}{query}", expect, tuple(files), error,
                          marker=marker, app=name in APP_CHECKPOINTS, note=note, **extra))

    add("bundled_copy_with_card", OK, None, ".safetensors", card=vit_card, expected={"kind": "vit"},
        note="tiny_vit weights + its model card: the control case")
    buf = io.BytesIO()
    torch.save({"model": _test_vit_state_dict(), "epoch": 3}, buf)
    add("pth_with_arch", OK, buf.getvalue(), ".pth", f"?arch={ARCH}", expected={"kind": "vit"},
        note="a training checkpoint {'model': state dict, 'epoch'} of test_vit: the .pth control case")
    for name, how, query, card in (("pickle_runs_code", "plain pickle", f"?arch={ARCH}", None),
                                   ("torch_save_runs_code", "torch.save zip", f"?arch={ARCH}", None),
                                   ("pickle_runs_code_no_arch", "plain pickle, no arch (MAE guess)", "", None),
                                   ("pickle_runs_code_with_card", "plain pickle + model card", "", vit_card)):
        marker = d / name / "PWNED"
        marker.unlink(missing_ok=True)
        payload = {"model": {"pos_embed": _RunsCode(str(marker))}}
        if "torch_save" in name:
            buf = io.BytesIO()
            torch.save(payload, buf)
            raw = buf.getvalue()
        else:
            raw = pickle.dumps(payload)
        add(name, ERROR, raw, ".pth", query, card, "CheckpointError", marker, f"{how}; must never run")
    whole = vit_w.read_bytes()
    add("truncated_safetensors_card", ERROR, whole[: len(whole) // 3], ".safetensors", card=vit_card,
        error="CheckpointError", note="a third of tiny_vit.safetensors, card beside")
    add("truncated_safetensors_arch", ERROR, whole[:1000], ".safetensors", f"?arch={ARCH}", error="CheckpointError",
        note="first 1,000 bytes")
    add("safetensors_huge_header", ERROR, struct.pack("<Q", 2**62) + b"{}", ".safetensors", f"?arch={ARCH}",
        error="CheckpointError", note="header length 2^62")
    add("empty_safetensors", ERROR, b"", ".safetensors", f"?arch={ARCH}", error="CheckpointError", note="0 bytes")
    add("text_renamed_pth", ERROR, b"these are my notes", ".pth", f"?arch={ARCH}", error="CheckpointError",
        note="text file renamed .pth")
    buf = io.BytesIO()
    torch.save({"model": {"w": torch.zeros(1000)}}, buf)
    add("truncated_pth", ERROR, buf.getvalue()[:-200], ".pth", f"?arch={ARCH}", error="CheckpointError",
        note="torch.save zip cut short")
    add("wrong_arch_timm", ERROR, None, ".safetensors", f"?arch={REAL_ARCH}", error="CheckpointError",
        note="tiny_vit (4 x 128) weights named as vit_tiny_patch16_224 (12 x 192)")
    add("wrong_arch_card", ERROR, (src / "ae_2d.safetensors").read_bytes(), ".safetensors", card=vit_card,
        error="CheckpointError", note="autoencoder weights beside a ViT card")
    add("no_arch_no_card", ERROR, None, ".safetensors", error="ModelError",
        note="plain ViT weights, nothing says which architecture")
    add("unknown_arch_name", ERROR, None, ".safetensors", "?arch=vit_tinny_patch16_224", error="ModelError",
        note="typo in arch=")
    add("card_not_json", ERROR, None, ".safetensors", card=None, error="ModelError", note="card is not JSON")
    write_file(d / "card_not_json" / "weights.json", b"{not json")
    add("card_unknown_kind", ERROR, None, ".safetensors", card={**vit_card, "kind": "rootkit"}, error="ModelError",
        note="card kind nobody builds")
    bad_arch = {**vit_card, "architecture": {**vit_card["architecture"], "num_heads": 5}}
    add("card_heads_do_not_divide", ERROR, None, ".safetensors", card=bad_arch, error="ModelError",
        note="embed_dim 128 with num_heads 5")
    wrong_type = {**vit_card, "architecture": {**vit_card["architecture"], "depth": "four"}}
    add("card_depth_is_text", ERROR, None, ".safetensors", card=wrong_type, error="ModelError",
        note='"depth": "four"')
    missing = d / "missing" / "nothing_here.safetensors"
    cases.append(Case("ckpt_missing_file", LOAD_MODEL, f"file:{missing}?arch={ARCH}", ERROR, (), "CheckpointError",
                      note="no such file"))
    return cases


def _test_vit_state_dict() -> dict:
    import timm
    import torch

    torch.manual_seed(0)
    return timm.create_model(ARCH, pretrained=False).state_dict()


def spec_cases() -> list[Case]:
    specs = [  # spec, error, kwargs, note
        ("timm:vit_smal_patch16_224", "ModelError", {}, "typo: suggests close names"),
        ("timm:definitely_not_a_model", "ModelError", {}, "unknown name"),
        ("timm:../../etc/passwd", "ModelError", {}, "a path as a name"),
        ("timm:resnet18", "ModelError", {"pretrained": False}, "a real timm model that is not a ViT"),
        ("timm:vit_tiny_patch16_224", "WeightsUnavailableError", {}, "no cached weights: fails fast, no network"),
        ("bundled:no_such_model", "ModelError", {}, "unknown bundled name"),
        ("vit_base_patch16_224", "ModelError", {}, "no scheme"),
    ]
    return [Case(f"spec_{spec.replace(':', '_').replace('/', '_').replace('.', '_')}", LOAD_MODEL, spec, ERROR,
                 error=error, kwargs=kwargs, app=spec.startswith("timm:"), note=note)
            for spec, error, kwargs, note in specs]
