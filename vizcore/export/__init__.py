"""Output files: TF Embedding Projector files (`projector`), the fast vectors TSV writer (`tsv`) and pixel
rendering to PNG / GIF (`render`: colour maps, overlays, upsampling).

    vc.export.tf_projector("proj/", X, {"label": labels}, sprite_images=images, projection=xy)

May import: `vizcore.analysis` and below (never figures or the interface).
"""

from __future__ import annotations

from vizcore.export.projector import (
    EMPTY,
    MAX_SPRITE_PX,
    bookmark_state,
    column_names,
    coordinates_table,
    metadata_frame,
    selection_bookmark,
    sprite,
    tf_projector,
    to_csv,
    to_parquet,
    write_metadata_tsv,
    write_zip,
)
from vizcore.export.tsv import finite_vectors, write_vectors_tsv

__all__ = [
    "EMPTY", "MAX_SPRITE_PX", "bookmark_state", "column_names", "coordinates_table", "finite_vectors",
    "metadata_frame", "selection_bookmark", "sprite",
    "tf_projector", "to_csv", "to_parquet", "write_metadata_tsv", "write_vectors_tsv", "write_zip",
]
