"""Every figure vizcore draws: one function per visual, data in, `go.Figure` out (never shown).

The one exception is the projector's 2-D map, `point_map` -> `PointMap`: binary buffers (positions, colours,
legend) that the browser's point renderer (`vizcore.ui.pointmap`) draws, for maps of up to a million points.

Pages, the CLI and notebooks all call these. One module per topic; the shared plumbing is in `_common`.

The public names below load on first use (PEP 562), so a page pays only for its own topic: `figures.mae` reads MAE
checkpoints (torch and the model code), which the VAE or Autoencoders page should not import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vizcore.lazy import lazy_attributes

# public name -> the module that defines it
_LAZY = {
    "CATEGORICAL": "vizcore.figures._common",
    "IMAGE_SIDE": "vizcore.figures._common",
    "PANEL_HEIGHT": "vizcore.figures._common",
    "PANEL_SIDE": "vizcore.figures._common",
    "SCALES": "vizcore.figures._common",
    "screen_safe": "vizcore.figures._common",
    "activation_figure": "vizcore.figures.anatomy",
    "attention_distance_figure": "vizcore.figures.anatomy",
    "cka_figure": "vizcore.figures.anatomy",
    "layernorm_hist_figure": "vizcore.figures.anatomy",
    "parameter_bar": "vizcore.figures.anatomy",
    "residual_norm_figure": "vizcore.figures.anatomy",
    "attention_overlay": "vizcore.figures.attention",
    "color_range": "vizcore.figures.attention",
    "head_maps": "vizcore.figures.attention",
    "layers_heads_overview": "vizcore.figures.attention",
    "mass_masks": "vizcore.figures.attention",
    "predictions_bar": "vizcore.figures.attention",
    "prefix_share_heatmap": "vizcore.figures.attention",
    "accuracy_figure": "vizcore.figures.latent",
    "atom_figure": "vizcore.figures.latent",
    "bottleneck_figure": "vizcore.figures.latent",
    "image_grid": "vizcore.figures.latent",
    "kl_figure": "vizcore.figures.latent",
    "latent_scatter": "vizcore.figures.latent",
    "loss_curve_figure": "vizcore.figures.latent",
    "norm_path_figure": "vizcore.figures.latent",
    "posterior_figure": "vizcore.figures.latent",
    "sparsity_figure": "vizcore.figures.latent",
    "tradeoff_figure": "vizcore.figures.latent",
    "error_vs_ratio_figure": "vizcore.figures.mae",
    "focus_region_figure": "vizcore.figures.mae",
    "mae_panels": "vizcore.figures.mae",
    "patch_error_figure": "vizcore.figures.mae",
    "strategies_figure": "vizcore.figures.mae",
    "offset_similarity_figure": "vizcore.figures.posembed",
    "principal_components_figure": "vizcore.figures.posembed",
    "similarity_grid_figure": "vizcore.figures.posembed",
    "sincos_vs_learned_figure": "vizcore.figures.posembed",
    "PointMap": "vizcore.figures.pointmap",
    "point_map": "vizcore.figures.pointmap",
    "label_counts_figure": "vizcore.figures.projector",
    "projection_scatter": "vizcore.figures.projector",
    "quality_comparison_figure": "vizcore.figures.projector",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_attributes("vizcore.figures", _LAZY, globals())


if TYPE_CHECKING:  # the same names for type checkers and IDEs
    from vizcore.figures._common import (  # noqa: F401
        CATEGORICAL,
        IMAGE_SIDE,
        PANEL_HEIGHT,
        PANEL_SIDE,
        SCALES,
        screen_safe,
    )
    from vizcore.figures.anatomy import (  # noqa: F401
        activation_figure,
        attention_distance_figure,
        cka_figure,
        layernorm_hist_figure,
        parameter_bar,
        residual_norm_figure,
    )
    from vizcore.figures.attention import (  # noqa: F401
        attention_overlay,
        color_range,
        head_maps,
        layers_heads_overview,
        mass_masks,
        predictions_bar,
        prefix_share_heatmap,
    )
    from vizcore.figures.latent import (  # noqa: F401
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
    from vizcore.figures.mae import (  # noqa: F401
        error_vs_ratio_figure,
        focus_region_figure,
        mae_panels,
        patch_error_figure,
        strategies_figure,
    )
    from vizcore.figures.pointmap import PointMap, point_map  # noqa: F401
    from vizcore.figures.posembed import (  # noqa: F401
        offset_similarity_figure,
        principal_components_figure,
        similarity_grid_figure,
        sincos_vs_learned_figure,
    )
    from vizcore.figures.projector import (  # noqa: F401
        label_counts_figure,
        projection_scatter,
        quality_comparison_figure,
    )
