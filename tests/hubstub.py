"""A Hugging Face Hub stand-in on loopback, so download tests never touch the network.

`HubStub` serves repositories in the real layout and answers exactly the requests `huggingface_hub` makes:

    GET  /api/models/{repo}[/revision/{rev}]?blobs=True   model info: sha, siblings with size, blobId, lfs.sha256
    HEAD /{repo}/resolve/{rev}/{file}     X-Repo-Commit + ETag (git blob sha1) for small files; LFS files
                                          (.safetensors, .bin) answer 302 to a "CDN" on another origin
                                          (http://localhost:<port>/cdn/<sha256>) with X-Linked-Etag / X-Linked-Size,
                                          as the real Hub does
    GET  the same paths and /cdn/<sha256>, with Range requests (206 + Content-Range)

Knobs for failure tests: `cut_after` (close the connection after N bytes of a file, once), `corrupt_in_transit`
(flip a byte while the ETag stays the good file's), `require_token` (resolve answers 401 GatedRepo without it),
`delay` (seconds between 8 KB pieces). `log` records every request (header names lower-cased). `closed_port()` and
`hanging_server()` give a refused port and one that accepts but never answers. `point_huggingface_hub_at` points
an already-imported `huggingface_hub` at the stub (it reads HF_ENDPOINT / HF_HOME into `constants` once, at import).
`timm_repo_files` / `hf_repo_files` build small random-weight repositories to serve.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

LFS_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
PIECE = 8192
_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")
_CDN = re.compile(r"^/cdn/(?P<sha>[0-9a-f]{64})$")


def git_sha1(data: bytes) -> str:
    """The git blob id of `data`: the Hub's ETag for a small (non-LFS) file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased


@dataclass
class Repo:
    commit: str
    files: dict[str, bytes]


@dataclass
class HubStub:
    """The Hub on 127.0.0.1:<random port>. Use as a context manager; `url` is the HF_ENDPOINT."""

    repos: dict[str, Repo] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)  # file name -> bytes sent before the cut (once)
    corrupt_in_transit: set[str] = field(default_factory=set)  # file names served with one byte flipped
    require_token: str | None = None  # resolve needs "Authorization: Bearer <token>" when set
    delay: float = 0.0  # seconds between 8 KB pieces of a body
    log: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.stub = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> HubStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_repo(self, repo_id: str, files: dict[str, bytes]) -> str:
        """Serve `files` as repo `repo_id` at a new commit on `main`; returns the commit sha."""
        digest = hashlib.sha1(repo_id.encode())
        for name in sorted(files):
            digest.update(name.encode() + files[name])
        self.repos[repo_id] = Repo(digest.hexdigest(), dict(files))
        return self.repos[repo_id].commit

    def requests(self, method: str, contains: str = "") -> list[Request]:
        return [r for r in self.log if r.method == method and contains in r.path]

    def _blob(self, sha: str) -> tuple[str, bytes] | None:
        for repo in self.repos.values():
            for name, data in repo.files.items():
                if hashlib.sha256(data).hexdigest() == sha:
                    return name, data
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def do_HEAD(self) -> None:
        self._route(body=False)

    def do_GET(self) -> None:
        self._route(body=True)

    @property
    def stub(self) -> HubStub:
        return self.server.stub  # type: ignore[attr-defined]

    def _route(self, body: bool) -> None:
        path = self.path.partition("?")[0]
        self.stub.log.append(Request(self.command, path, {k.lower(): v for k, v in self.headers.items()}))
        if m := _API.match(path):
            self._api(unquote(m["repo"]), unquote(m["rev"] or "main"))
        elif m := _RESOLVE.match(path):
            self._resolve(unquote(m["repo"]), unquote(m["rev"]), unquote(m["file"]), body)
        elif m := _CDN.match(path):
            found = self.stub._blob(m["sha"])  # a signed URL on the real Hub: no token needed
            if found:
                self._serve(*found, body=body, etag=m["sha"])
            else:
                self._send(404, {})
        else:
            self._send(404, {})

    def _authorised(self) -> bool:
        token = self.stub.require_token
        return token is None or self.headers.get("Authorization") == f"Bearer {token}"

    def _api(self, repo_id: str, rev: str) -> None:
        repo = self.stub.repos.get(repo_id)
        if repo is None:
            return self._send(401, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        if rev not in ("main", repo.commit):
            return self._send(404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"})
        siblings = []
        for name, data in repo.files.items():
            sibling = {"rfilename": name, "size": len(data), "blobId": git_sha1(data)}
            if name.endswith(LFS_SUFFIXES):
                sibling["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
            siblings.append(sibling)
        info = {"_id": repo.commit[:24], "id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False,
                "gated": "manual" if self.stub.require_token else False, "siblings": siblings}
        self._send(200, {"Content-Type": "application/json"}, json.dumps(info).encode())

    def _resolve(self, repo_id: str, rev: str, name: str, body: bool) -> None:
        repo = self.stub.repos.get(repo_id)
        if repo is None:
            return self._send(401, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        if not self._authorised():
            return self._send(401, {"X-Error-Code": "GatedRepo", "X-Error-Message": (
                f"Access to model {repo_id} is restricted. You must have access to it and be authenticated.")})
        if rev not in ("main", repo.commit):
            return self._send(404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"})
        headers = {"X-Repo-Commit": repo.commit}
        if name not in repo.files:
            return self._send(404, headers | {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
        data = repo.files[name]
        if not name.endswith(LFS_SUFFIXES):
            return self._serve(name, data, body=body, etag=git_sha1(data), extra=headers)
        sha = hashlib.sha256(data).hexdigest()
        self._send(302, headers | {"ETag": f'"{git_sha1(sha.encode())}"', "X-Linked-Etag": f'"{sha}"',
                                   "X-Linked-Size": str(len(data)),
                                   "Location": f"http://localhost:{self.stub.port}/cdn/{sha}"})

    def _serve(self, name: str, data: bytes, *, body: bool, etag: str, extra: dict[str, str] | None = None) -> None:
        """Send `data` (from the Range start if asked), applying the cut / corrupt / delay knobs."""
        m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", "").strip())
        start = int(m[1]) if m else 0
        if start >= len(data) > 0:
            return self._send(416, {"Content-Range": f"bytes */{len(data)}"})
        payload = data[start:]
        if name in self.stub.corrupt_in_transit and payload:
            payload = bytes([payload[0] ^ 0xFF]) + payload[1:]
        headers = (extra or {}) | {"ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                                   "Content-Type": "application/octet-stream"}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        self._send(206 if start else 200, headers, payload if body else None, length=len(payload), name=name)

    def _send(self, status: int, headers: dict[str, str], payload: bytes | None = b"", *,
              length: int | None = None, name: str = "") -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload or b"") if length is None else length))
        self.end_headers()
        if not payload:
            return
        cut = self.stub.cut_after.pop(name, None)
        try:
            for i in range(0, len(payload), PIECE):
                piece = payload[i:i + PIECE]
                if cut is not None and i + len(piece) >= cut:
                    self.wfile.write(piece[:cut - i])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(piece)
                if self.stub.delay:
                    self.wfile.flush()
                    time.sleep(self.stub.delay)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (e.g. a cancelled download)
            self.close_connection = True


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once, like a machine with no network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    """The URL of a loopback server that accepts connections (kernel backlog) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def point_huggingface_hub_at(monkeypatch, endpoint: str, hf_home: Path) -> None:
    """Point this process's `huggingface_hub` at `endpoint`, with its cache and token file under `hf_home`.

    huggingface_hub copies HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE into `huggingface_hub.constants` when it is first
    imported, so changing the environment later does nothing in this process: the constants are patched (what
    `hf_hub_url`, `HfApi`, `hf_hub_download` and `try_to_load_from_cache` read at call time) and the environment too
    (for subprocesses: the CLI, a Streamlit server). No token from the real machine leaks in; offline mode is off.
    """
    from huggingface_hub import constants

    hub = str(hf_home / "hub")
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {"HF_ENDPOINT": endpoint, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "0",
                       "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_XET": "1"}.items():
        monkeypatch.setenv(key, value)
    patched = {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(hf_home),
        "HF_HUB_CACHE": hub,
        "HUGGINGFACE_HUB_CACHE": hub,
        "HF_TOKEN_PATH": str(hf_home / "token"),
        "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_XET": True,
    }
    for key, value in patched.items():
        if hasattr(constants, key):
            monkeypatch.setattr(constants, key, value)


def timm_repo_files(arch: str = "vit_small_patch16_224", seed: int = 0, **kwargs) -> dict[str, bytes]:
    """`model.safetensors` (random weights) + timm's `config.json` for `arch` built with `kwargs`, as on the Hub."""
    import safetensors.torch
    import timm
    import torch

    torch.manual_seed(seed)
    model = timm.create_model(arch, pretrained=False, **kwargs)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    cfg = {k: v for k, v in model.pretrained_cfg.items() if isinstance(v, (str, int, float, bool, list, tuple))}
    config = {"architecture": arch, "num_classes": model.num_classes, "num_features": model.num_features,
              "model_args": kwargs, "pretrained_cfg": cfg}
    return {"model.safetensors": safetensors.torch.save(state), "config.json": json.dumps(config).encode()}


def hf_repo_files(seed: int = 0, hidden: int = 32) -> dict[str, bytes]:
    """A tiny `transformers`-style ViT checkpoint folder: config.json, model.safetensors, preprocessor_config.json."""
    import safetensors.torch
    import torch

    g = torch.Generator().manual_seed(seed)
    state = {
        "vit.embeddings.cls_token": torch.randn(1, 1, hidden, generator=g),
        "vit.embeddings.position_embeddings": torch.randn(1, 17, hidden, generator=g),
        "vit.embeddings.patch_embeddings.projection.weight": torch.randn(hidden, 3, 8, 8, generator=g),
        "vit.embeddings.patch_embeddings.projection.bias": torch.randn(hidden, generator=g),
    }
    config = {"model_type": "vit", "architectures": ["ViTModel"], "hidden_size": hidden, "num_hidden_layers": 0,
              "num_attention_heads": 2, "intermediate_size": 2 * hidden, "image_size": 32, "patch_size": 8}
    pre = {"do_resize": True, "size": {"height": 32, "width": 32}, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}
    return {"config.json": json.dumps(config).encode(), "model.safetensors": safetensors.torch.save(state),
            "preprocessor_config.json": json.dumps(pre).encode()}
