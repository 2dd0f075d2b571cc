"""The MAE page's sections: masking controls, the four panels, per-patch error, strategies and the ratio sweep."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from vizcore import figures
from vizcore.analysis import attention, mae
from vizcore.errors import ModelError
from vizcore.models.mae.handle import ENCODER_ONLY, MaeViT
from vizcore.ui import cache
from vizcore.ui import mae_player as player
from vizcore.ui.errors import inline_errors
from vizcore.ui.state import keep

STRATEGY_HELP = {
    "random": "uniform noise per patch, as in the paper",
    "block": "BEiT-style: whole rectangles of patches are hidden together",
    "grid": "keep one patch per 2x2 cell (the paper's grid ablation)",
    "focused": "bias the hiding toward a region of interest (FocusMAE-style)",
}
UNTRAINED = ("The decoder predicts every patch, but the MAE's loss covers only the hidden ones (He et al. 2022): its "
             "output over the visible patches was never trained, so in the 'reconstruction' panel those patches are "
             "untrained guesses. The last panel pastes the true visible patches back, as the paper's figures do.")
SWEEP_RATIOS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 0.95)
FOCUS_WHY = ("Why focus? FocusMAE (Basu et al., CVPR 2024) hides the region that matters more often, so the "
             "encoder must learn to infer it from its surroundings; keeping it instead shows how much the context "
             "alone explains.")


@dataclass(frozen=True)
class Masking:
    """What the user chose; hashable, so it keys the caches."""

    ratio: float  # the mask ratio slider is the flip-books' (`mae_player`): they set it per page
    strategy: str
    seed: int
    focus_source: str = ""                               # "rectangle" or a model spec whose rollout is used
    rectangle: tuple[int, int, int, int] = (0, 0, 1, 1)  # top, left, bottom, right in patches (bottom/right excl.)
    strength: float = 1.0
    hide: bool = True
    unnormalize: str = "visible"

    def noise(self, handle, x: torch.Tensor) -> torch.Tensor:
        """The shuffle noise (B, L) this choice gives for prepared images `x` (B, C, H, W)."""
        g, B = handle.cfg.grid, x.shape[0]
        base = mae.strategy_noise("random" if self.strategy == "focused" else self.strategy, B, g, seed=self.seed)
        if self.strategy != "focused":
            return base
        region, _ = self.focus(handle, x)
        return mae.focus_noise(base, region, strength=self.strength, hide=self.hide)

    def focus(self, handle, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The focus region (g, g) or (B, g, g) in [0, 1] and, for "rollout", the rollout (B, gh, gw) it came from."""
        g = handle.cfg.grid
        if self.focus_source == "rectangle":
            return mae.rectangle_region(g, *self.rectangle), None
        rollout = attention.rollout(attention.capture(handle, x))  # (B, gh, gw), sums to 1
        return mae.attention_region(rollout, g), rollout


TABS = ["Reconstruction", "Strategies side by side", "Error vs mask ratio"]


@st.fragment
def explore(choice, picked, handle) -> None:
    """The masking controls and the views they drive. Moving a control reruns only this part, and only the open
    tab is computed (switching tabs reruns this part too); the mask ratio reruns nothing (a flip-book)."""
    masking = masking_controls(handle)
    images, ident = [picked.image], (choice.spec, choice.pretrained, picked.key)
    recon, side, sweep_tab = st.tabs(TABS, key="mae_tab", on_change="rerun")
    if recon.open:
        with inline_errors(), recon:
            panels(ident, images, f"MAE reconstruction of {picked.name}", masking, choice.title, handle.cfg.grid ** 2)
            focus(*ident, images, masking)
    if side.open:
        with inline_errors(), side:
            player.strategies(*ident, images, masking)
    if sweep_tab.open:
        with inline_errors(), sweep_tab:
            sample, set_key = sample_set()
            sweep(choice.spec, choice.pretrained, set_key, sample, masking)


def masking_controls(handle) -> Masking:
    """Seed + re-draw, strategy and its focus options (the ratio is the flip-books' slider: `mae_player`)."""
    c1, c2, c3 = st.columns([3, 1, 1])
    c1.markdown("The **mask ratio** is the slider under the panels: every ratio is reconstructed once for these "
                "settings, and the slider switches between them in the browser.")
    c3.button("Re-draw", icon=":material/casino:", help="A new random mask (seed + 1)", key="mae_redraw",
              on_click=_redraw)
    seed = int(c2.number_input("Seed", 0, 10_000, key=keep("mae_seed", 0, lo=0, hi=10_000)))
    strategy = st.radio("Masking strategy", list(STRATEGY_HELP), horizontal=True,
                        key=keep("mae_strategy", "random", options=list(STRATEGY_HELP)),
                        format_func=str.capitalize, captions=list(STRATEGY_HELP.values()))
    unnorm = _unnormalize_choice(handle)
    ratio = player.RATIOS[player.DEFAULT]  # a placeholder: each flip-book page sets its own
    if strategy != "focused":
        return Masking(ratio, strategy, seed, unnormalize=unnorm)
    return Masking(ratio, strategy, seed, unnormalize=unnorm, **_focus_controls(handle))


def _redraw() -> None:
    st.session_state.mae_seed = (st.session_state.get("mae_seed", 0) + 1) % 10_001


def _focus_controls(handle) -> dict:
    g = handle.cfg.grid
    st.caption(FOCUS_WHY)
    c1, c2, c3 = st.columns(3)
    source = c1.radio("Region of interest", ["rectangle", "attention rollout"],
                      key=keep("mae_focus_src", "rectangle", options=["rectangle", "attention rollout"]),
                      help="Attention rollout uses this MAE's own encoder on the unmasked image.")
    strength = c2.slider("Focus strength", 0.0, 2.0, step=0.1, key=keep("mae_strength", 1.0, lo=0.0, hi=2.0),
                         help="0 = plain random masking; 1 = every region patch sorts after (or before) every "
                              "other patch.")
    hide = c3.toggle("Hide the region (off: keep it)", key=keep("mae_hide", True))
    rect = (0, 0, 1, 1)
    if source == "rectangle":
        r1, r2 = st.columns(2)
        top, bottom = r1.slider("Rows (patches)", 0, g, key=keep("mae_rows", (g // 4, 3 * g // 4), lo=0, hi=g))
        left, right = r2.slider("Columns (patches)", 0, g, key=keep("mae_cols", (g // 4, 3 * g // 4), lo=0, hi=g))
        rect = (top, left, max(bottom, top + 1), max(right, left + 1))
    return {"focus_source": "rectangle" if source == "rectangle" else "rollout", "rectangle": rect,
            "strength": strength, "hide": hide}


def _unnormalize_choice(handle) -> str:
    if not handle.cfg.norm_pix_loss:
        return "visible"
    return st.radio("Un-normalise predictions with", ["visible", "true"], horizontal=True,
                    key=keep("mae_unnorm", "visible", options=["visible", "true"]),
                    format_func={"visible": "statistics of the visible patches (honest)",
                                 "true": "each hidden patch's true statistics (the paper's demo; leaks)"}.get,
                    help="This MAE predicts per-patch normalised pixels (norm_pix_loss). Using the hidden patch's "
                         "own mean and variance to display them leaks information the model never saw.")


def panels(ident: tuple, images: list, title: str, m: Masking, model: str, L: int) -> None:
    """The four panels and the error per hidden patch at every mask ratio (a flip-book), and all of them as a PNG."""
    outs = player.panels(*ident, images, m, title, L)
    st.caption(UNTRAINED)

    def png() -> bytes:  # made when clicked, not on every run
        return player.all_ratios_png(outs, title, m, model, L)

    st.download_button("Download the panels at every mask ratio (PNG)", png, file_name="mae_panels_all_ratios.png",
                       mime="image/png", icon=":material/download:", on_click="ignore",
                       help="One row per ratio on the slider's grid, each under its own settings and error.")


def focus(spec: str, pretrained: bool, key: str, images: list, m: Masking) -> None:
    """The focus region this choice used, and whether an attention rollout was flat (the patches each ratio hides
    are in the flip-book's masked panel)."""
    if m.strategy != "focused":
        return
    region, rollout = cache.focus_region(spec, pretrained, key, images, m)
    source = "the rectangle you set" if rollout is None else "this MAE encoder's attention rollout, scaled to 0–1"
    st.plotly_chart(figures.focus_region_figure(
        region, None, hide=m.hide, title=f"Focus region: {source}",
        subtitle=f"strength {m.strength:g} · region {'hidden' if m.hide else 'kept'} first · the masked panel above "
                 "shows the patches each ratio hides"), width="stretch")
    if rollout is not None:
        level = 1.0 / rollout.size
        dev = attention.deviation_from_uniform(rollout, level)
        if dev < mae.FLAT_ROLLOUT:
            st.warning(f"The rollout is nearly flat: every patch holds between {rollout.min():.1%} and "
                       f"{rollout.max():.1%} of it (uniform: {level:.1%}), none twice its uniform share. Scaled to "
                       "0–1 it still looks like a region, but the region is close to arbitrary, so this focused "
                       "masking is close to random masking.", icon=":material/warning:")



def sweep(spec: str, pretrained: bool, key: str, images: list, m: Masking) -> None:
    """Mean hidden-patch MSE over the sample images at each ratio, per plain strategy (on request: it is the
    page's slowest view)."""
    runs = 3 * len(SWEEP_RATIOS)
    if not st.session_state.get("mae_sweep_on"):
        st.markdown(f"Reconstruct all {len(images)} sample images at {len(SWEEP_RATIOS)} mask ratios with each "
                    f"plain strategy ({runs} batches) and plot the error on hidden patches.")
        st.button("Run the sweep", icon=":material/show_chart:", key="mae_sweep",
                  on_click=lambda: st.session_state.update(mae_sweep_on=True))
        return
    errors = {}
    bar = st.progress(0.0, text="Sweeping mask ratios…")
    names = ("random", "block", "grid")
    for i, name in enumerate(names):
        errors[name] = []
        for j, ratio in enumerate(SWEEP_RATIOS):
            plain = Masking(ratio, name, m.seed, unnormalize=m.unnormalize)
            out = cache.reconstruction(spec, pretrained, key, images, plain)
            errors[name].append(float(np.mean(out.hidden_mse)))
            bar.progress((i * len(SWEEP_RATIOS) + j + 1) / (len(names) * len(SWEEP_RATIOS)))
    bar.empty()
    st.plotly_chart(figures.error_vs_ratio_figure(SWEEP_RATIOS, errors), width="stretch")
    st.caption(f"Each point: the mean over {len(images)} sample images of the MSE on hidden patches, seed {m.seed}. "
               "The grid strategy keeps exactly one patch per 2x2 cell only at ratio 0.75; at other ratios it "
               "fills the remainder randomly.")


def require_decoder(handle) -> None:
    """A clear reason when the chosen model cannot reconstruct (a plain ViT or an encoder-only MAE)."""
    if not isinstance(handle, MaeViT):
        raise ModelError(f"{handle.info.title} is not a masked autoencoder with a decoder. {ENCODER_ONLY}")
    handle.require_decoder()


def describe(handle) -> str:
    c = handle.cfg
    return (f"**{handle.info.title}** · {c.img_size} px input, {c.grid}×{c.grid} patches of {c.patch_size} px · "
            f"encoder {c.depth} blocks × {c.embed_dim} wide, decoder {c.decoder_depth} × {c.decoder_embed_dim}"
            f"{' · predicts normalised pixels (norm_pix_loss)' if c.norm_pix_loss else ''}. {handle.info.description}")


def sample_set() -> tuple[list, str]:
    """The bundled sample images (scenes and photos) for the sweep, with one content key for the set."""
    picked = cache.samples().values()
    return [im for im, _ in picked], "|".join(key for _, key in picked)
