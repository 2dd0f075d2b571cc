"""Download on request (vizcore.models.download) against a loopback Hub stand-in: sizes, progress, the cache
layout timm reads, and every failure a person can meet (no network, a silent server, a cut transfer, a corrupt
file, a full disk, a cancel, a gated repo), each fast and with a message that says what to do."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import safetensors.torch
from hubstub import HubStub, closed_port, hanging_server, hf_repo_files, point_huggingface_hub_at, timm_repo_files

from vizcore.errors import ModelError, VizcoreError
from vizcore.models import download as dl
from vizcore.models import hub_files

SPEC = "timm:vit_small_patch16_224.dino"
REPO = "timm/vit_small_patch16_224.dino"
TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=0)  # DINO has no head
HF_REPO = "acme/tiny-vit"
FAIL_FAST = 5.0  # seconds: the bound for "no network" to reach the person


@pytest.fixture(scope="module")
def timm_files() -> dict[str, bytes]:
    return timm_repo_files("vit_small_patch16_224", **TINY)


@pytest.fixture
def hub(tmp_path, monkeypatch, timm_files):
    """The stub Hub serving the tiny DINO repo and a tiny transformers repo, with huggingface_hub pointed at it."""
    with HubStub() as stub:
        stub.add_repo(REPO, timm_files)
        stub.add_repo(HF_REPO, hf_repo_files())
        point_huggingface_hub_at(monkeypatch, stub.url, tmp_path / "hf_home")
        yield stub


def test_specs_map_to_repos_without_network():
    src = hub_files.source_for_spec(SPEC)
    assert (src.repo_id, src.revision, src.weights[0]) == (REPO, None, "model.safetensors")
    src = hub_files.source_for_spec("hf:facebook/dinov2-small@v1")
    assert (src.repo_id, src.revision, src.required) == ("facebook/dinov2-small", "v1", ("config.json",))
    for bad in ("bundled:tiny_vit", "file:/tmp/x.safetensors", "nonsense", "timm:no_such_model_xyz",
                "timm:vit_small_patch16_224.no_such_tag", "hf:not a repo"):
        with pytest.raises(ModelError) as err:
            hub_files.source_for_spec(bad)
        assert "timm" in str(err.value) or "hf:" in str(err.value)


def test_plan_reports_the_served_sizes(hub, timm_files):
    p = dl.plan(SPEC)
    assert p.repo_id == REPO and p.revision == hub.repos[REPO].commit and p.ref == "main"
    assert dict(p.files) == {name: len(data) for name, data in timm_files.items()}
    assert p.total_bytes == sum(len(d) for d in timm_files.values())
    p = dl.plan(f"hf:{HF_REPO}")
    assert [name for name, _ in p.files] == ["model.safetensors", "config.json", "preprocessor_config.json"]
    assert not hub.requests("GET", "/resolve/") and not hub.requests("GET", "/cdn/")  # no file bytes yet


def test_download_lands_in_the_cache_timm_reads(hub, timm_files, monkeypatch):
    from huggingface_hub import constants, try_to_load_from_cache

    assert not hub_files.is_downloaded(SPEC)
    p = dl.plan(SPEC)
    seen: list[tuple[int, int]] = []
    folder = dl.download(p, progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and seen[-1] == (p.total_bytes, p.total_bytes) and len(seen) > 2
    assert folder == Path(constants.HF_HUB_CACHE) / f"models--{REPO.replace('/', '--')}" / "snapshots" / p.revision
    for name, data in timm_files.items():
        assert try_to_load_from_cache(REPO, name) == str(folder / name)
        assert (folder / name).read_bytes() == data
    assert hub_files.is_downloaded(SPEC)
    assert not list(Path(constants.HF_HUB_CACHE).rglob("*.incomplete"))

    # timm itself, offline, finds the file through its pretrained_cfg and loads exactly the served weights
    import timm

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    model = timm.create_model("vit_small_patch16_224.dino", pretrained=True, **TINY)
    served = safetensors.torch.load(timm_files["model.safetensors"])
    assert all(v.equal(served[k]) for k, v in model.state_dict().items())


def test_download_hf_repo_and_a_second_call_fetches_nothing(hub):
    p = dl.plan(f"hf:{HF_REPO}")
    folder = dl.download(p)
    for name, data in hub.repos[HF_REPO].files.items():
        assert (folder / name).read_bytes() == data
    gets = len(hub.requests("GET"))
    assert dl.download(p) == folder and len(hub.requests("GET")) == gets


def test_no_network_fails_fast_with_a_clear_message(hub, monkeypatch):
    p = dl.plan(SPEC)
    dead = f"http://127.0.0.1:{closed_port()}"
    point_huggingface_hub_at(monkeypatch, dead, Path(os.environ["HF_HOME"]))
    for call in (lambda: dl.plan(SPEC), lambda: dl.download(p)):
        t0 = time.monotonic()
        with pytest.raises(VizcoreError, match="Could not reach .*network connection.*HF_ENDPOINT"):
            call()
        assert time.monotonic() - t0 < FAIL_FAST


def test_silent_server_fails_within_the_timeout(hub, monkeypatch):
    with hanging_server() as url:
        point_huggingface_hub_at(monkeypatch, url, Path(os.environ["HF_HOME"]))
        t0 = time.monotonic()
        with pytest.raises(VizcoreError, match="did not answer within"):
            dl.plan(SPEC)
        elapsed = time.monotonic() - t0
    assert elapsed + 0.1 >= dl.DEFAULT_TIMEOUT and elapsed < FAIL_FAST


def test_offline_mode_is_named(hub, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(VizcoreError, match="HF_HUB_OFFLINE"):
        dl.plan(SPEC)


def test_cut_transfer_says_so_and_a_retry_resumes(hub, timm_files):
    p = dl.plan(SPEC)
    hub.cut_after["model.safetensors"] = 50_000
    with pytest.raises(VizcoreError, match=r"interrupted after 50 kB of \d+ kB.*resumes where it stopped"):
        dl.download(p)
    part, = Path(os.environ["HF_HOME"]).rglob("*.incomplete")
    assert part.stat().st_size == 50_000
    folder = dl.download(p)
    resumed = [r for r in hub.requests("GET", "/cdn/") if r.headers.get("range") == "bytes=50000-"]
    assert len(resumed) == 1
    assert (folder / "model.safetensors").read_bytes() == timm_files["model.safetensors"]
    assert not part.exists()


def test_invalid_safetensors_is_refused_and_removed(hub, timm_files):
    hub.add_repo(REPO, {**timm_files, "model.safetensors": os.urandom(len(timm_files["model.safetensors"]))})
    p = dl.plan(SPEC)
    with pytest.raises(VizcoreError, match="not a valid .safetensors file.*removed from the cache.*again"):
        dl.download(p)
    home = Path(os.environ["HF_HOME"])
    assert not list(home.rglob("blobs/*")) and not list(home.rglob("model.safetensors"))  # no blob, no snapshot link

    hub.add_repo(REPO, timm_files)  # the Hub is fixed: a retry fetches it fresh
    folder = dl.download(dl.plan(SPEC))
    assert (folder / "model.safetensors").read_bytes() == timm_files["model.safetensors"]


def test_bytes_corrupted_in_transit_fail_the_checksum(hub, timm_files):
    p = dl.plan(SPEC)
    hub.corrupt_in_transit.add("model.safetensors")
    with pytest.raises(VizcoreError, match="checksum does not match"):
        dl.download(p)
    hub.corrupt_in_transit.clear()
    assert (dl.download(p) / "model.safetensors").read_bytes() == timm_files["model.safetensors"]


def test_a_broken_file_already_in_the_cache_is_replaced(hub, timm_files):
    p = dl.plan(SPEC)
    weights = dl.download(p) / "model.safetensors"
    weights.resolve().write_bytes(b"\0" * len(timm_files["model.safetensors"]))  # the blob rots on disk
    dl.download(p)
    assert weights.read_bytes() == timm_files["model.safetensors"]
    assert len(hub.requests("GET", "/cdn/")) == 2


def test_full_disk_is_refused_before_any_byte(hub, monkeypatch):
    p = dl.plan(SPEC)
    monkeypatch.setattr(dl, "free_disk_bytes", lambda path: p.total_bytes)
    with pytest.raises(VizcoreError, match=r"needs \d+ kB \(plus 100.0 MB spare\) but .* only \d+ kB free. Free some"):
        dl.download(p)
    assert not hub.requests("GET", "/resolve/") and not hub.requests("HEAD") and not hub.requests("GET", "/cdn/")


def test_cancel_stops_promptly_and_keeps_the_partial_file(hub, timm_files):
    p = dl.plan(SPEC)
    hub.delay = 0.05  # ~16 s for the file at this pace
    cancel, cancelled_at = threading.Event(), []

    def progress(done: int, total: int) -> None:
        if done > 20_000 and not cancel.is_set():
            cancel.set()
            cancelled_at.append(time.monotonic())

    with pytest.raises(dl.DownloadCancelled, match="run it again"):
        dl.download(p, progress=progress, cancel=cancel)
    assert time.monotonic() - cancelled_at[0] < 0.5
    part, = Path(os.environ["HF_HOME"]).rglob("*.incomplete")
    kept = part.stat().st_size
    assert 20_000 < kept < len(timm_files["model.safetensors"])
    hub.delay = 0.0
    folder = dl.download(p)
    assert hub.requests("GET", "/cdn/")[-1].headers.get("range") == f"bytes={kept}-"
    assert (folder / "model.safetensors").read_bytes() == timm_files["model.safetensors"]


def test_gated_repo_asks_to_log_in_and_a_token_opens_it(hub, monkeypatch):
    hub.require_token = "hf_test_token"
    p = dl.plan(SPEC)  # the Hub shows a gated repo's files and sizes to everyone
    with pytest.raises(VizcoreError, match="gated.*hf auth login.*HF_TOKEN"):
        dl.download(p)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    del hub.log[:]
    dl.download(p)
    heads, cdn = hub.requests("HEAD", "/resolve/"), hub.requests("GET", "/cdn/")
    assert heads and all(r.headers.get("authorization") == "Bearer hf_test_token" for r in heads)
    assert cdn and all("authorization" not in r.headers for r in cdn)  # a CDN gets no token


def test_unknown_repo_and_missing_config_are_explained(hub):
    with pytest.raises(VizcoreError, match="has no repository acme/nothing.*log in"):
        dl.plan("hf:acme/nothing")
    hub.add_repo("acme/bare", {"model.safetensors": hf_repo_files()["model.safetensors"]})
    with pytest.raises(VizcoreError, match="no config.json"):
        dl.plan("hf:acme/bare")
