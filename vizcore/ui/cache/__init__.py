"""The app's one cache: models once per process, results keyed on names and content hashes (never on big arrays).

Every cached function returns a handle, an image, a number or a frozen dataclass. Keys are what Streamlit hashes:
spec strings, widget values and content keys (`sha256` of the upload bytes, taken once by `widgets`); arguments
whose names start with `_` (images, arrays) are not hashed (see DESIGN "Known traps": `st.cache_data` hashes big
arrays from a sample). Progress bars are created inside the long cached functions, so a cache hit replays and
clears them. One module per page family, one public namespace: `from vizcore.ui import cache; cache.model(...)`
(`core`: models and images; `vit`: attention, position embeddings, anatomy, MAE; `latent`: autoencoders and VAEs;
`projector`; `inside`: the Inside-a-block page, used as `cache.inside`).

The names load on first use (PEP 562, `_LAZY`): a page pays only for the families it touches, and Home, which
touches none, imports no model library. A new cached function is one line in `_LAZY` (a test checks none is
missing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vizcore.lazy import lazy_attributes

# public name -> the module that defines it (a module's own name: the module itself)
_LAZY = {
    # core
    "core": "vizcore.ui.cache.core",
    "UPLOAD_SIDE": "vizcore.ui.cache.core",
    "bytes_key": "vizcore.ui.cache.core",
    "decoded_upload": "vizcore.ui.cache.core",
    "embedding_sources": "vizcore.ui.cache.core",
    "image_key": "vizcore.ui.cache.core",
    "model": "vizcore.ui.cache.core",
    "model_infos": "vizcore.ui.cache.core",
    "model_specs": "vizcore.ui.cache.core",
    "png_bytes": "vizcore.ui.cache.core",
    "samples": "vizcore.ui.cache.core",
    # vit
    "vit": "vizcore.ui.cache.vit",
    "AnatomyViews": "vizcore.ui.cache.vit",
    "PosembedViews": "vizcore.ui.cache.vit",
    "Reconstruction": "vizcore.ui.cache.vit",
    "anatomy_views": "vizcore.ui.cache.vit",
    "attention_maps": "vizcore.ui.cache.vit",
    "focus_region": "vizcore.ui.cache.vit",
    "posembed_views": "vizcore.ui.cache.vit",
    "reconstruction": "vizcore.ui.cache.vit",
    # latent
    "latent": "vizcore.ui.cache.latent",
    "LatentSummary": "vizcore.ui.cache.latent",
    "ae_heldout": "vizcore.ui.cache.latent",
    "ae_split": "vizcore.ui.cache.latent",
    "beta_rows": "vizcore.ui.cache.latent",
    "heldout_mse": "vizcore.ui.cache.latent",
    "latent_paths": "vizcore.ui.cache.latent",
    "latent_summary": "vizcore.ui.cache.latent",
    "pca_curve": "vizcore.ui.cache.latent",
    "probe_table": "vizcore.ui.cache.latent",
    "sprite_factors": "vizcore.ui.cache.latent",
    # projector
    "projector": "vizcore.ui.cache.projector",
    "embedded_upload": "vizcore.ui.cache.projector",
    "upload_embedded": "vizcore.ui.cache.projector",
    "features": "vizcore.ui.cache.projector",
    "kept_upload": "vizcore.ui.cache.projector",
    "knn_score": "vizcore.ui.cache.projector",
    "neighbor_index": "vizcore.ui.cache.projector",
    "path_vectors": "vizcore.ui.cache.projector",
    "probe_score": "vizcore.ui.cache.projector",
    "projection_of": "vizcore.ui.cache.projector",
    "throttled": "vizcore.ui.cache.projector",
    "transfer_baseline": "vizcore.ui.cache.projector",
    "trust_score": "vizcore.ui.cache.projector",
    "upload_set": "vizcore.ui.cache.projector",
    "uploaded_vectors": "vizcore.ui.cache.projector",
    "vector_dataset": "vizcore.ui.cache.projector",
    # inside
    "inside": "vizcore.ui.cache.inside",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_attributes("vizcore.ui.cache", _LAZY, globals())


if TYPE_CHECKING:  # the same names for type checkers and IDEs
    from vizcore.ui.cache import core, inside, latent, projector, vit  # noqa: F401
    from vizcore.ui.cache.core import (  # noqa: F401
        UPLOAD_SIDE,
        bytes_key,
        decoded_upload,
        embedding_sources,
        image_key,
        model,
        model_infos,
        model_specs,
        png_bytes,
        samples,
    )
    from vizcore.ui.cache.latent import (  # noqa: F401
        LatentSummary,
        ae_heldout,
        ae_split,
        beta_rows,
        heldout_mse,
        latent_paths,
        latent_summary,
        pca_curve,
        probe_table,
        sprite_factors,
    )
    from vizcore.ui.cache.projector import (  # noqa: F401
        embedded_upload,
        features,
        kept_upload,
        knn_score,
        neighbor_index,
        path_vectors,
        probe_score,
        projection_of,
        throttled,
        transfer_baseline,
        trust_score,
        upload_set,
        uploaded_vectors,
        vector_dataset,
    )
    from vizcore.ui.cache.vit import (  # noqa: F401
        AnatomyViews,
        PosembedViews,
        Reconstruction,
        anatomy_views,
        attention_maps,
        focus_region,
        posembed_views,
        reconstruction,
    )
