"""The Download weights panel: the one place the app fetches pretrained weights, with size, progress and Cancel.

Light on purpose: Home draws it beside the curated-model table, so this module imports no model library (the
curated sizes are recorded, `vizcore.models.curated`); the model picker (`widgets.model_picker`) uses the same
panel. The caches it clears after a download load only then (`vizcore.ui.cache` is lazy).
"""

from __future__ import annotations

import time

import streamlit as st

from vizcore import models  # `models.download` (HTTP client and all) loads when a download starts
from vizcore.errors import VizcoreError
from vizcore.models.curated import estimated_bytes, format_size
from vizcore.ui import cache

JOBS = "_vz_downloads"  # picker key -> {"spec", "status": requested | running | cancelled | failed, "done", ...}
REDRAW_EVERY = 0.2  # s between progress-bar updates (each one is also where a Cancel click can stop the run)


def download_panel(spec: str, *, key: str, title: str = "") -> None:
    """The Download weights panel for a `timm:` / `hf:` spec whose weights are not here, in the current container.

    Before the click: what is missing and a **Download weights (≈NN MB)** button; nothing touches the network.
    After it: a progress bar (bytes, rate, time left) and a Cancel button while `download.download` runs in this
    script run; then the model caches are cleared and the page reruns with the model. Failures (no network within
    5 s, a full disk, a cut connection) and a cancel end inline, keeping the partial file: the button resumes it.
    """
    jobs = st.session_state.setdefault(JOBS, {})
    if key in jobs and jobs[key]["spec"] != spec:
        jobs.pop(key)
    job = jobs.get(key)
    name = title or spec
    with st.container(border=True, key=f"{key}_download_panel"):
        if job and job["status"] == "requested":
            _run_download(job, key, name)  # reruns the page when done
        st.markdown(f"**{name}**: its pretrained weights are not on this machine yet. Download them once "
                    f"({size_text(spec)}) into the Hugging Face cache, or turn on *Random weights* to explore the "
                    "architecture untrained.")
        if job and job["status"] == "failed":
            st.error(job["message"], icon="⚠️")
        elif job and job["status"] in ("running", "cancelled"):
            kept = f" {format_size(job.get('done', 0), approx=False)} kept:" if job.get("done") else ""
            why = "cancelled" if job["status"] == "cancelled" else "stopped (the page changed while it ran)"
            st.info(f"Download {why}.{kept} the button below continues where it stopped.",
                    icon=":material/pause_circle:")
        st.button(f"Download weights ({size_text(spec)})", key=f"{key}_download", type="primary",
                  on_click=request_download, args=(key, spec))


def size_text(spec: str) -> str:
    """"≈87 MB" from the curated record or the architecture (no network), or "size shown when it starts"."""
    size = estimated_bytes(spec)
    return format_size(size) if size else "size shown when it starts"


def request_download(key: str, spec: str) -> None:
    """Ask the panel with widget key `key` to fetch `spec` on its next draw (a button callback)."""
    st.session_state.setdefault(JOBS, {})[key] = {"spec": spec, "status": "requested"}


def _cancel_download(key: str) -> None:
    job = st.session_state.get(JOBS, {}).get(key)
    if job is not None:
        job["status"] = "cancelled"


def _run_download(job: dict, key: str, name: str) -> None:
    """Fetch job["spec"] now, in this run: progress and Cancel drawn here; success clears caches and reruns."""
    spec = job["spec"]
    job["status"] = "running"
    st.markdown(f"Downloading **{name}** ({spec}) into the Hugging Face cache…")
    bar = st.progress(0.0, text="Asking the Hub for the file sizes…")
    st.button("Cancel download", key=f"{key}_cancel", on_click=_cancel_download, args=(key,))
    try:
        plan = models.download.plan(spec)
        job["total"] = plan.total_bytes
        models.download.download(plan, progress=_progress(bar, job))
    except VizcoreError as e:
        job.update(status="failed", message=str(e))
        bar.empty()
        return
    except OSError as e:  # the disk filled up or the cache folder is not writable, mid-transfer
        job.update(status="failed", message=f"The download of {spec} stopped: {e}. Free some disk space (or set "
                                            "HF_HOME to a writable, larger disk) and click Download again.")
        bar.empty()
        return
    st.session_state[JOBS].pop(key, None)
    cache.model.clear(spec, True)
    cache.model_infos.clear()
    cache.embedding_sources.clear()
    st.rerun()


def _progress(bar, job: dict):
    """A download progress callback redrawing `bar` at most every REDRAW_EVERY s: bytes, rate, time left."""
    start, last, first = time.monotonic(), [0.0], []

    def update(done: int, total: int) -> None:
        job["done"] = done
        if not first:  # bytes already here (a resumed file) are not part of the rate
            first.append(done)
        now = time.monotonic()
        if now - last[0] < REDRAW_EVERY and done < total:
            return
        last[0] = now
        rate = (done - first[0]) / max(now - start, 1e-3)  # bytes/s fetched since the click
        left = f"{(total - done) / rate:.0f} s left" if rate > 0 and done < total else "finishing…"
        text = (f"{format_size(done, approx=False)} of {format_size(total, approx=False)} · "
                f"{rate / 1e6:.1f} MB/s · {left}")
        bar.progress(min(1.0, done / max(total, 1)), text=text)

    return update
