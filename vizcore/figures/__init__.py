"""Every plotly figure vizcore draws: one function per visual, data in, `go.Figure` out (never shown).

Pages, the CLI and notebooks all call these. One module per topic; the shared plumbing is in `_common`.
"""

from vizcore.figures._common import CATEGORICAL, IMAGE_SIDE, PANEL_HEIGHT, PANEL_SIDE, SCALES, screen_safe
from vizcore.figures.anatomy import (
    activation_figure,
    attention_distance_figure,
    cka_figure,
    layernorm_hist_figure,
    parameter_bar,
    residual_norm_figure,
)
from vizcore.figures.attention import (
    attention_overlay,
    color_range,
    head_maps,
    layers_heads_overview,
    mass_masks,
    predictions_bar,
    prefix_share_heatmap,
)
from vizcore.figures.latent import (
    accuracy_figure,
    atom_figure,
    bottleneck_figure,
    image_grid,
    kl_figure,
    latent_scatter,
    loss_curve_figure,
    norm_path_figure,
    posterior_figure,
    sparsity_figure,
    tradeoff_figure,
)
from vizcore.figures.mae import (
    error_vs_ratio_figure,
    focus_region_figure,
    mae_panels,
    patch_error_figure,
    strategies_figure,
)
from vizcore.figures.posembed import (
    offset_similarity_figure,
    principal_components_figure,
    similarity_grid_figure,
    sincos_vs_learned_figure,
)

__all__ = [
    "CATEGORICAL", "IMAGE_SIDE", "PANEL_HEIGHT", "PANEL_SIDE", "SCALES", "color_range", "screen_safe",
    "attention_overlay", "head_maps", "layers_heads_overview", "mass_masks", "predictions_bar", "prefix_share_heatmap",
    "activation_figure", "attention_distance_figure", "cka_figure", "layernorm_hist_figure", "parameter_bar",
    "residual_norm_figure", "offset_similarity_figure", "principal_components_figure", "similarity_grid_figure",
    "sincos_vs_learned_figure",
    "accuracy_figure", "atom_figure", "bottleneck_figure", "image_grid", "kl_figure", "latent_scatter",
    "loss_curve_figure", "norm_path_figure", "posterior_figure", "sparsity_figure", "tradeoff_figure",
    "error_vs_ratio_figure", "focus_region_figure", "mae_panels", "patch_error_figure", "strategies_figure",
]

from vizcore.figures.projector import (  # noqa: E402  the Embedding projector's figures
    label_counts_figure,
    projection_scatter,
    quality_comparison_figure,
)

__all__ += ["label_counts_figure", "projection_scatter", "quality_comparison_figure"]
