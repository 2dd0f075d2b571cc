"""The Autoencoders page's sections: reconstructions, bottleneck size, classification from the code, the sparse AE,
and a short training run in the app (in a background thread, so the page stays responsive and Stop is instant)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import numpy as np
import streamlit as st
import torch

from vizcore import figures
from vizcore.analysis import sparse
from vizcore.errors import VizcoreError
from vizcore.train import autoencoders as train_ae
from vizcore.ui import cache
from vizcore.ui.state import keep

log = logging.getLogger("vizcore.ui")
DATASET = "digits"
KIND_NAMES = {"ae": "an AE", "sae": "a sparse AE", "vae": "a VAE"}  # with the article each takes
TRAIN_DIMS = [2, 4, 8, 16, 32, 64, 128]
TRAIN_STEPS = [100, 200, 400, 800, 1500, 3000]
TRAIN_BETAS = [0.25, 0.5, 1.0, 2.0, 4.0]


def _specs(kind: str) -> list[str]:
    """Bundled models of `kind` trained on the page's data set, in listing order."""
    return [s for s in cache.model_specs(kind) if cache.model(s, True).dataset == DATASET]


def _dim(spec: str) -> int:
    return cache.model(spec, True).latent_dim


def _examples(test, per_class: int = 1) -> np.ndarray:
    """Indices of the first `per_class` held-out images of every class."""
    return np.array([int(np.flatnonzero(test.labels == c)[j]) for j in range(per_class)
                     for c in range(len(test.label_names))])


def _title(spec: str) -> str:
    return cache.model(spec, True).info.title


def reconstructions() -> None:
    st.subheader("Reconstructions side by side")
    test = cache.ae_heldout(DATASET)
    picks = []
    cols = st.columns(3)
    for col, kind, default in zip(cols, ("ae", "sae", "vae"), ("bundled:ae_16d", "bundled:sae_l1",
                                                                "bundled:vae_digits_16d")):
        specs = _specs(kind)
        if specs:
            picks.append(col.selectbox(kind.upper(), specs, format_func=_title,
                                       key=keep(f"ae_rec_{kind}", default, options=specs)))
    idx = _examples(test)
    x = test.images[idx]
    rows, labels = [x], ["input"]
    for spec in picks:
        h = cache.model(spec, True)
        rows.append(h.reconstruct(x))
        labels.append(f"{h.info.title.split(' · ')[0]} {h.latent_dim}{'u' if h.info.kind == 'sae' else 'd'} · "
                      f"MSE {cache.heldout_mse(spec, True):.4f}")
    st.plotly_chart(figures.image_grid(
        torch.stack(rows), title="Held-out digits and their reconstructions", row_labels=labels,
        col_labels=[test.label_names[test.labels[i]] for i in idx], x_title="true class", y_title="model · MSE",
        subtitle="MSE per pixel over all held-out digits; the VAE decodes its mean code μ"), width="stretch",
        key="ae_recons")


def bottleneck() -> None:
    st.subheader("Reconstruction error vs bottleneck size")
    ae = sorted(_specs("ae"), key=_dim)
    if not ae:
        st.info("No bundled AEs on digits; train them with `vizcore train ae --bundled`.")
        return
    ks = [cache.model(s, True).latent_dim for s in ae]
    size = tuple(cache.model(ae[0], True).cfg.image_size)
    pca_ks = tuple(sorted({1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48} | set(ks)))  # k = 64 pixels is lossless
    pca = cache.pca_curve(DATASET, size, pca_ks)
    curves = {"AE": (ks, [cache.heldout_mse(s, True) for s in ae]), "PCA": (pca_ks, pca)}
    vaes = sorted(_specs("vae"), key=_dim)
    if vaes:
        curves["VAE (decoding μ)"] = ([cache.model(s, True).latent_dim for s in vaes],
                                      [cache.heldout_mse(s, True) for s in vaes])
    left, right = st.columns([3, 2])
    left.plotly_chart(figures.bottleneck_figure(curves, title="Held-out MSE per pixel against k"),
                      width="stretch", key="ae_bottleneck")
    pca_at = dict(zip(pca_ks, pca))
    right.dataframe([{"k": k, "AE MSE": round(e, 5), "PCA MSE": round(pca_at[k], 5),
                      "AE / PCA": f"{e / pca_at[k]:.2f}"} for k, e in zip(*curves["AE"])], hide_index=True)
    right.caption("PCA is the best *linear* k-dimensional code. The AE's non-linear encoder and decoder beat it at "
                  "small k; at k = 32 of 64 pixels PCA keeps almost everything, and the AE (1,437 training digits) "
                  "no longer wins.")


def classification() -> None:
    st.subheader("Classifying digits from the code")
    specs = sorted(_specs("ae"), key=_dim) + _specs("sae") + sorted(_specs("vae"), key=_dim)
    rows = []
    for spec in specs:
        h = cache.model(spec, True)
        m = h.card.get("metrics", {})
        if "accuracy" in m:  # measured at training time with the same split and classifier
            acc, dims = m["accuracy"], m["accuracy_dims"]["PCA"]
        else:
            probes = {p.features: p for p in cache.probe_table(spec, True)}
            acc, dims = {k: p.accuracy for k, p in probes.items()}, probes["PCA"].dims
        rows.append({"model": f"{spec.split(':', 1)[-1]} (k={h.latent_dim})", "spec": spec, **acc,
                     "PCA dims": dims})
    st.plotly_chart(figures.accuracy_figure(rows, title="Held-out accuracy: code vs PCA (same k) vs raw pixels"),
                    width="stretch", key="ae_acc")
    st.dataframe([{"model": _title(r["spec"]), "code": f"{r['code']:.1%}", "PCA (same k)": f"{r['PCA']:.1%}",
                   "PCA dims": r["PCA dims"], "raw pixels (64)": f"{r['pixels']:.1%}"} for r in rows],
                 hide_index=True)
    st.caption("Standardised features, multinomial logistic regression, trained on the 1,437 training digits and "
               "scored on the 360 held-out ones. PCA dims is capped at the 64 pixels.")


def sparse_units() -> None:
    st.subheader("Inside the sparse autoencoder")
    specs = _specs("sae")
    if not specs:
        st.info("No bundled sparse AE; train one with `vizcore train sae --bundled`.")
        return
    c1, c2 = st.columns([2, 1])
    spec = c1.selectbox("Sparse AE", specs, format_func=_title, key=keep("ae_sae", specs[0], options=specs))
    h = cache.model(spec, True)
    s = cache.latent_summary(spec, True)
    codes = s.codes
    stats = sparse.sparse_stats(codes, sparse.active_threshold(h.cfg.sparsity))
    st.plotly_chart(figures.sparsity_figure(codes, stats.active_fraction, stats.unit_frequency,
                                            threshold=stats.threshold,
                                            title=f"{h.info.title}: how sparse is the code?"), width="stretch",
                    key="ae_sparsity")
    m1, m2, m3 = st.columns(3)
    m1.metric("Units active per input (mean)", f"{float(stats.active_fraction.mean()) * h.latent_dim:.1f} of "
              f"{h.latent_dim}")
    m2.metric("Dead units (never active on held-out digits)", stats.num_dead)
    m3.metric("Held-out MSE", f"{cache.heldout_mse(spec, True):.4f}")
    freq = stats.unit_frequency.tolist()
    alive = [u for u in sorted(range(len(freq)), key=lambda u: -freq[u]) if freq[u] > 0]
    unit = c2.selectbox("Unit (most often active first)", alive, key=keep("ae_unit", alive[0], options=alive),
                        format_func=lambda u: f"unit {u} · active on {freq[int(u)]:.0%}")
    test = cache.ae_heldout(DATASET)
    idx, vals = sparse.top_activating(codes, unit, 16)
    left, right = st.columns([2, 1])
    left.plotly_chart(figures.image_grid(
        test.images[idx.numpy()].reshape(2, 8, *test.images.shape[1:]), title=f"Top-16 held-out inputs of unit "
        f"{unit}", row_labels=["1-8", "9-16"], col_labels=[str(i) for i in range(1, 9)],
        hover=np.array([f"activation {v:.3f}" for v in vals.tolist()], dtype=object).reshape(2, 8),
        x_title="rank", y_title="ranks", subtitle=f"activations {float(vals[0]):.2f} … {float(vals[-1]):.2f}"),
        width="stretch", key="ae_top")
    if h.cfg.decoder == "linear":
        right.plotly_chart(figures.atom_figure(h.module.decoder.atoms[unit].detach(),
                                               title=f"Dictionary atom of unit {unit}"), width="stretch",
                           key="ae_atom")


# ---- in-app training --------------------------------------------------------------------------------------------

@dataclass
class TrainingJob:
    """A short training run in a background thread; the page polls it and may cancel it."""

    kind: str
    latent_dim: int
    steps: int
    beta: float
    step: int = 0
    history: list = field(default_factory=list)
    result: tuple | None = None
    error: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        threading.Thread(target=self._run, name="vizcore-train", daemon=True).start()

    def _progress(self, step: int, total: int, metrics: dict) -> bool:
        self.step = step
        if step % max(1, total // 150) == 0 or step == total:
            self.history.append({k: round(float(v), 4) for k, v in metrics.items()})
        return not self.cancel.is_set()

    def _run(self) -> None:
        try:
            self.result = train_ae.train_quick(self.kind, latent_dim=self.latent_dim, steps=self.steps,
                                               beta=self.beta, progress=self._progress)
        except VizcoreError as e:
            self.error = str(e)
        except Exception:  # a bug must not leave the page polling forever
            log.exception("in-app training failed")
            self.error = "Training failed unexpectedly; the error was logged on the server."
        finally:
            self.done.set()


def train_here() -> None:
    st.subheader("Train one yourself")
    st.caption("A short run on the training digits (one CPU thread, a few seconds to a minute). The page stays "
               "usable while it trains; Stop keeps the partly trained model.")
    job: TrainingJob | None = st.session_state.get("ae_job")
    running = job is not None and not job.done.is_set()
    c1, c2, c3, c4 = st.columns(4)
    kinds, dims, steps, betas = ["ae", "sae", "vae"], TRAIN_DIMS, TRAIN_STEPS, TRAIN_BETAS
    kind = c1.radio("Model", kinds, horizontal=True, key=keep("tr_kind", "ae", options=kinds),
                    format_func={"ae": "AE", "sae": "sparse AE", "vae": "VAE"}.get, disabled=running)
    c2.select_slider("Code size (sparse AE: units)", dims, key=keep("tr_dim", 16, options=dims), disabled=running)
    c3.select_slider("Steps", steps, key=keep("tr_steps", 800, options=steps), disabled=running)
    c4.select_slider("β (VAE)", betas, key=keep("tr_beta", 1.0, options=betas), disabled=running or kind != "vae")
    st.button("Train", type="primary", disabled=running, key="tr_go", on_click=_start_training)
    if running:
        _live(job)
    elif job is not None:
        _result(job)


def _start_training() -> None:
    """Button callback (runs before the script, so a rerun cannot swallow the click): start a job."""
    ss = st.session_state
    job = TrainingJob(ss["tr_kind"], int(ss["tr_dim"]), int(ss["tr_steps"]), float(ss["tr_beta"]))
    job.start()
    ss["ae_job"] = job


@st.fragment(run_every=0.5)
def _live(job: TrainingJob) -> None:
    """Polls the running job: progress bar, live loss curve, Stop button; a full rerun when it finishes."""
    if job.done.is_set():
        st.rerun()
    last = job.history[-1]["loss"] if job.history else float("nan")
    st.progress(job.step / job.steps, text=f"step {job.step} of {job.steps} · loss {last:.3f}")
    st.button("Stop", key="tr_stop", on_click=job.cancel.set)
    if job.history:
        st.plotly_chart(figures.loss_curve_figure(job.history, title="Training loss (live)", total_steps=job.steps),
                        width="stretch", key="tr_live_curve")


def _result(job: TrainingJob) -> None:
    if job.error:
        st.error(job.error, icon="⚠️")
        return
    handle, history, metrics = job.result
    done = metrics["steps_done"]
    note = "" if done == job.steps else f" (stopped at step {done} of {job.steps})"
    code = f"{job.latent_dim}-unit" if job.kind == "sae" else f"{job.latent_dim}-d"
    st.success(f"Trained {KIND_NAMES[job.kind]} with a {code} code for {done} steps{note}: held-out MSE "
               f"{metrics['heldout_mse']:.4f}.")
    st.plotly_chart(figures.loss_curve_figure(job.history or history, title="Training loss",
                                              total_steps=job.steps), width="stretch", key="tr_curve")
    test = cache.ae_heldout(DATASET)
    x = test.images[_examples(test)]
    st.plotly_chart(figures.image_grid(
        torch.stack([x, handle.reconstruct(x)]), title="Held-out digits and this model's reconstructions",
        row_labels=["input", "trained here"], col_labels=[str(c) for c in range(len(x))], x_title="class",
        y_title="images"),
        width="stretch", key="tr_recons")
    same = [s for s in _specs(job.kind) if cache.model(s, True).latent_dim == job.latent_dim]
    if same:
        st.caption(f"The bundled {_title(same[0])} (longer recipe) reaches {cache.heldout_mse(same[0], True):.4f}.")

