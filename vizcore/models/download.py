"""Download on request: pretrained weights from the Hugging Face Hub into its normal cache.

The ONLY place vizcore touches the network, and only when a person asked for it (`vizcore download SPEC`, the app's
Download button). Files land where `huggingface_hub` puts them (`$HF_HOME/hub/models--org--name/`), so timm and
`transformers` read them offline. HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE and tokens (HF_TOKEN, `hf auth login`) are
honoured through huggingface_hub's public API (`HfApi.model_info`, `get_hf_file_metadata`, `get_session`).

Not `hf_hub_download` for the bytes: it deletes a partial file on failure, retries for ~23 s with no network, and
cannot be cancelled. Here a file streams into `blobs/<etag>.incomplete` (a retry resumes it with a Range request),
no request is retried and each has a short timeout, and a finished file is checked (size, checksum, `.safetensors`
header) before it enters the cache.

    p = plan("timm:vit_small_patch16_224.dino")       # sizes from the Hub: p.total_bytes
    folder = download(p, progress=on_bytes, cancel=event)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from filelock import FileLock, Timeout
from huggingface_hub import HfApi, constants, get_hf_file_metadata, get_session, hf_hub_url, try_to_load_from_cache
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers, hf_raise_for_status
from safetensors import SafetensorError, safe_open

from vizcore.errors import ModelError, VizcoreError
from vizcore.models.hub_files import source_for_spec

try:  # the HTTP library under huggingface_hub's session: httpx2 in 2.x, httpx in 1.x
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx

DEFAULT_TIMEOUT = 4.0  # s per connect / read: a dead network or a silent server is reported within 5 s
DISK_MARGIN = 100_000_000  # bytes left free beyond the download itself
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


class DownloadError(ModelError):
    """A download was refused or failed; the message says what to do next."""


class DownloadCancelled(DownloadError):  # noqa: N818 (a cancel is not a failure)
    """The person cancelled. Finished files stay in the cache; the partial one resumes on the next try."""


@dataclass(frozen=True)
class DownloadPlan:
    """What `download` will fetch, with sizes read from the Hub, so a person sees the size before saying yes."""

    spec: str
    repo_id: str
    revision: str  # the commit the sizes were read at; `download` fetches exactly this commit
    ref: str  # the branch or tag asked for ("main"); the cache points it at `revision`
    files: tuple[tuple[str, int], ...]  # (file name in the repo, bytes)

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


def plan(spec: str, *, timeout: float = DEFAULT_TIMEOUT) -> DownloadPlan:
    """Ask the Hub which files `spec` needs and how big they are (one request, no file bytes)."""
    src = source_for_spec(spec)
    _check_online()
    with _hub_errors(src.repo_id, timeout):
        info = HfApi(endpoint=constants.ENDPOINT).model_info(
            src.repo_id, revision=src.revision, files_metadata=True, timeout=timeout)
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or ()}
    weights = next((name for name in src.weights if name in sizes), None)
    if weights is None:
        raise DownloadError(f"{src.repo_id} has no weights file vizcore can read (looked for "
                            f"{', '.join(src.weights)}); pick another model.")
    if missing := [name for name in src.required if name not in sizes]:
        raise DownloadError(f"{src.repo_id} has no {', '.join(missing)}, so it is not a checkpoint vizcore can open.")
    if not info.sha:
        raise DownloadError(f"{constants.ENDPOINT} did not say which commit {src.repo_id} is at; "
                            "check that HF_ENDPOINT points at a Hugging Face Hub.")
    files = ((weights, sizes[weights]),) + tuple((name, sizes[name]) for name in src.extras if name in sizes)
    return DownloadPlan(spec, src.repo_id, info.sha, src.revision or constants.DEFAULT_REVISION, files)


def download(p: DownloadPlan, *, progress: Progress | None = None, cancel: threading.Event | None = None,
             timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Fetch the files of `p` into the Hugging Face cache and return the snapshot folder.

    Args:
        progress: called with (bytes done, bytes total) after every network chunk (~64 KB); throttle in the UI.
        cancel: when set, the transfer stops within one chunk with `DownloadCancelled`; the partial file stays
            (`blobs/<etag>.incomplete`) and the next call resumes it.
        timeout: seconds to wait for a connection or for the next bytes before giving up.
    """
    _check_online()
    cache = Path(constants.HF_HUB_CACHE)
    todo = [(name, size) for name, size in p.files if not _cached_ok(p, name, size, cache)]
    needed, free = sum(size for _, size in todo), free_disk_bytes(cache)
    if free < needed + DISK_MARGIN:
        raise DownloadError(f"{p.spec} needs {_mb(needed)} (plus {_mb(DISK_MARGIN)} spare) but {cache} has only "
                            f"{_mb(free)} free. Free some disk space, or set HF_HOME to a larger disk, and retry.")
    done = p.total_bytes - needed

    def on_bytes(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, p.total_bytes)

    on_bytes(0)
    for name, size in todo:
        if cancel is not None and cancel.is_set():
            raise DownloadCancelled(f"Download of {p.spec} cancelled; run it again to continue.")
        _fetch(p, name, size, cache, on_bytes, cancel, timeout)
    storage = cache / _repo_folder(p.repo_id)
    if p.ref != p.revision:  # refs/<branch> holds the commit, as huggingface_hub writes it
        (storage / "refs" / p.ref).parent.mkdir(parents=True, exist_ok=True)
        (storage / "refs" / p.ref).write_text(p.revision)
    return storage / "snapshots" / p.revision


def free_disk_bytes(path: Path) -> int:
    """Free bytes on the disk that holds `path` (its nearest existing parent). Tests replace this function."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def _fetch(p: DownloadPlan, name: str, size: int, cache: Path, on_bytes: Callable[[int], None],
           cancel: threading.Event | None, timeout: float) -> None:
    """Bring one file into the cache: HEAD for its ETag, stream into `<etag>.incomplete`, check, link."""
    url = hf_hub_url(p.repo_id, name, revision=p.revision, endpoint=constants.ENDPOINT)
    with _hub_errors(p.repo_id, timeout):
        meta = get_hf_file_metadata(url, timeout=timeout, endpoint=constants.ENDPOINT)
    if not meta.etag:
        raise DownloadError(f"{constants.ENDPOINT} sent no ETag for {name}; check that HF_ENDPOINT points at a "
                            "Hugging Face Hub.")
    size = meta.size if meta.size is not None else size
    storage = cache / _repo_folder(p.repo_id)
    blob = storage / "blobs" / meta.etag
    part = blob.with_name(f"{meta.etag}.incomplete")
    lock_path = cache / ".locks" / _repo_folder(p.repo_id) / f"{meta.etag}.vizcore.lock"
    for folder in (blob.parent, lock_path.parent):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock_path)).acquire(timeout=0):
            if blob.exists() and _problem(blob, name, size, meta.etag) is None:
                on_bytes(size)
            else:
                headers = build_hf_headers()
                if urlsplit(meta.location)[:2] != urlsplit(url)[:2]:  # a CDN: the token must not leave the Hub
                    headers.pop("authorization", None)
                with _hub_errors(p.repo_id, timeout):
                    _transfer(meta.location, headers, part, size, on_bytes, cancel, timeout, name)
                if problem := _problem(part, name, size, meta.etag):
                    part.unlink()
                    raise DownloadError(f"{name} from {p.repo_id} is not a valid file ({problem}), so it was removed "
                                        "from the cache. Run the download again to fetch it fresh; if this repeats, "
                                        "the file on the Hub is broken: pick another model.")
                os.replace(part, blob)
            _link(blob, storage / "snapshots" / p.revision / name)
    except Timeout:
        raise DownloadError(f"{name} of {p.repo_id} is already being downloaded by another window or process; "
                            "wait for it to finish, then retry.") from None


def _transfer(url: str, headers: dict[str, str], part: Path, size: int, on_bytes: Callable[[int], None],
              cancel: threading.Event | None, timeout: float, name: str) -> None:
    """Stream `url` into `part`, resuming from its current length with a Range request."""
    have = part.stat().st_size if part.exists() else 0
    if have > size:  # not a prefix of this file
        part.unlink()
        have = 0
    on_bytes(have)
    if have == size:
        return
    if have:
        headers = {**headers, "Range": f"bytes={have}-"}
    with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
        if response.status_code >= 400:
            response.read()  # so the error carries the Hub's message
        hf_raise_for_status(response)
        if have and response.status_code != 206:  # the server ignored the Range: start over
            on_bytes(-have)
            have = 0
        with part.open("ab" if have else "wb") as f:
            try:
                for chunk in response.iter_bytes():
                    f.write(chunk)
                    have += len(chunk)
                    on_bytes(len(chunk))
                    if cancel is not None and cancel.is_set():
                        raise DownloadCancelled(f"Download cancelled with {_mb(have)} of {_mb(size)} of {name} "
                                                "kept; run it again to continue from there.")
            except httpx.TransportError as e:
                raise _interrupted(name, have, size, e) from e
    if have < size:
        raise _interrupted(name, have, size, None)


def _interrupted(name: str, have: int, size: int, error: Exception | None) -> DownloadError:
    why = f" ({type(error).__name__}: {error})" if error else ""
    return DownloadError(f"The download of {name} was interrupted after {_mb(have)} of {_mb(size)}{why}. "
                         "Check your network connection and run it again: it resumes where it stopped.")


def _problem(path: Path, name: str, size: int, etag: str | None) -> str | None:
    """Why `path` is not a good copy of `name`, or None: size, checksum (the ETag), `.safetensors` header."""
    actual = path.stat().st_size
    if actual != size:
        return f"{actual} bytes instead of {size}"
    if etag and _digest(path, etag) not in (None, etag):
        return "its checksum does not match the Hub's"
    if name.endswith(".safetensors"):
        try:
            with safe_open(str(path), framework="numpy") as f:
                f.keys()
        except (SafetensorError, OSError, ValueError) as e:
            return f"not a valid .safetensors file: {e}"
    return None


def _digest(path: Path, etag: str) -> str | None:
    """The file's hash in the ETag's scheme: sha256 for LFS files, git's blob sha1 for small ones; None if neither."""
    if len(etag) == 64:
        h = hashlib.sha256()
    elif len(etag) == 40:
        h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    else:
        return None
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _cached_ok(p: DownloadPlan, name: str, size: int, cache: Path) -> bool:
    """Whether `name` is already in the snapshot and sound; a broken copy is removed so it is fetched again."""
    path = try_to_load_from_cache(p.repo_id, name, cache_dir=cache, revision=p.revision)
    if not isinstance(path, str):
        return False
    if _problem(Path(path), name, size, None) is None:
        return True
    blob = Path(path).resolve()
    Path(path).unlink()
    blob.unlink(missing_ok=True)
    return False


def _link(blob: Path, pointer: Path) -> None:
    """snapshots/<commit>/<name> -> ../../blobs/<etag>, the cache layout huggingface_hub documents."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.unlink(missing_ok=True)
    try:
        os.symlink(os.path.relpath(blob, pointer.parent), pointer)
    except OSError:  # no symlinks here (e.g. Windows without developer mode): a copy, as huggingface_hub does
        shutil.copyfile(blob, pointer)


def _repo_folder(repo_id: str) -> str:
    return "models--" + repo_id.replace("/", "--")


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


_OFFLINE = ("HF_HUB_OFFLINE is set, so nothing can be downloaded. Unset it (or set HF_HUB_OFFLINE=0) and retry; "
            "models already in the cache keep working offline.")


def _check_online() -> None:
    if constants.HF_HUB_OFFLINE:
        raise DownloadError(_OFFLINE)


@contextmanager
def _hub_errors(repo_id: str, timeout: float) -> Iterator[None]:
    """Turn what the Hub client raises into a `DownloadError` that says what to do."""
    where = constants.ENDPOINT
    check = f"Check your network connection (and HF_ENDPOINT, now {where}) and retry."
    login = "log in with `hf auth login` (or set HF_TOKEN) with an account that has access, and retry."
    try:
        yield
    except VizcoreError:
        raise
    except OfflineModeIsEnabled as e:
        raise DownloadError(_OFFLINE) from e
    except GatedRepoError as e:
        raise DownloadError(f"{repo_id} is gated: accept its terms at {where}/{repo_id}, then {login}") from e
    except RepositoryNotFoundError as e:
        raise DownloadError(f"{where} has no repository {repo_id}, or it is private. Check the name; if it is "
                            f"private, {login}") from e
    except (RevisionNotFoundError, EntryNotFoundError) as e:
        raise DownloadError(f"{where} does not have that revision or file of {repo_id}: {e}") from e
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        if status in (401, 403):
            raise DownloadError(f"{where} refused access to {repo_id} (HTTP {status}): {login}") from e
        raise DownloadError(f"{where} answered HTTP {status} for {repo_id}; retry later.") from e
    except httpx.TimeoutException as e:
        raise DownloadError(f"{where} did not answer within {timeout:g} s. {check}") from e
    except httpx.TransportError as e:
        raise DownloadError(f"Could not reach {where} ({type(e).__name__}: {e}). {check}") from e
