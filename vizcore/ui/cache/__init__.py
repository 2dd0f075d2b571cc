"""The app's one cache: models once per process, results keyed on names and content hashes (never on big arrays).

Every cached function returns a handle, an image, a number or a frozen dataclass. Keys are what Streamlit hashes:
spec strings, widget values and content keys (`sha256` of the upload bytes, taken once by `widgets`); arguments
whose names start with `_` (images, arrays) are not hashed (see DESIGN "Known traps": `st.cache_data` hashes big
arrays from a sample). Progress bars are created inside the long cached functions, so a cache hit replays and
clears them. One module per page family, one public namespace: `from vizcore.ui import cache; cache.model(...)`
(`core`: models and images; `vit`: attention, position embeddings, anatomy, MAE; `latent`: autoencoders and VAEs;
`projector`; `inside`: the Inside-a-block page, used as `cache.inside`).
"""

from __future__ import annotations

from vizcore.ui.cache import inside
from vizcore.ui.cache.core import (
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
from vizcore.ui.cache.latent import (
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
from vizcore.ui.cache.projector import (
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
from vizcore.ui.cache.vit import (
    AnatomyViews,
    PosembedViews,
    Reconstruction,
    anatomy_views,
    attention_maps,
    focus_region,
    posembed_views,
    reconstruction,
)

__all__ = [
    "AnatomyViews",
    "LatentSummary",
    "PosembedViews",
    "Reconstruction",
    "UPLOAD_SIDE",
    "ae_heldout",
    "ae_split",
    "anatomy_views",
    "attention_maps",
    "beta_rows",
    "bytes_key",
    "decoded_upload",
    "embedded_upload",
    "embedding_sources",
    "features",
    "focus_region",
    "heldout_mse",
    "image_key",
    "inside",
    "kept_upload",
    "knn_score",
    "latent_paths",
    "latent_summary",
    "model",
    "model_infos",
    "model_specs",
    "neighbor_index",
    "path_vectors",
    "pca_curve",
    "png_bytes",
    "posembed_views",
    "probe_score",
    "probe_table",
    "projection_of",
    "reconstruction",
    "samples",
    "sprite_factors",
    "throttled",
    "transfer_baseline",
    "trust_score",
    "upload_set",
    "uploaded_vectors",
    "vector_dataset",
]
