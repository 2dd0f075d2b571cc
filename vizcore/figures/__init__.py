"""Every plotly figure vizcore draws: one function per visual, data in, `go.Figure` out (never shown).

Pages, the CLI and notebooks all call these. One module per topic; the shared plumbing is in `_common`.
"""

from vizcore.figures._common import IMAGE_SIDE, PANEL_HEIGHT, PANEL_SIDE
from vizcore.figures.attention import (
    attention_overlay,
    head_maps,
    layers_heads_overview,
    mass_masks,
    predictions_bar,
    prefix_share_heatmap,
)

__all__ = [
    "IMAGE_SIDE", "PANEL_HEIGHT", "PANEL_SIDE", "attention_overlay", "head_maps", "layers_heads_overview",
    "mass_masks", "predictions_bar", "prefix_share_heatmap",
]
