"""Output files: TF Embedding Projector files (`projector`), the fast vectors TSV writer (`tsv`) and pixel
rendering to PNG / GIF (`render`: colour maps, overlays, upsampling).

    vc.export.tf_projector("proj/", X, {"label": labels}, sprite_images=images, projection=xy)

The public names below load on first use (PEP 562): `projector` imports pandas (about 0.5 s), which a page or
command that only renders pixels (`from vizcore.export import render`) should not pay for.

May import: `vizcore.analysis` and below (never figures or the interface).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vizcore.lazy import lazy_attributes

# public name -> the module that defines it
_LAZY = {
    "EMPTY": "vizcore.export.projector",
    "MAX_SPRITE_PX": "vizcore.export.projector",
    "bookmark_state": "vizcore.export.projector",
    "column_names": "vizcore.export.projector",
    "coordinates_table": "vizcore.export.projector",
    "metadata_frame": "vizcore.export.projector",
    "selection_bookmark": "vizcore.export.projector",
    "sprite": "vizcore.export.projector",
    "tf_projector": "vizcore.export.projector",
    "to_csv": "vizcore.export.projector",
    "to_parquet": "vizcore.export.projector",
    "write_metadata_tsv": "vizcore.export.projector",
    "write_zip": "vizcore.export.projector",
    "finite_vectors": "vizcore.export.tsv",
    "write_vectors_tsv": "vizcore.export.tsv",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_attributes("vizcore.export", _LAZY, globals())


if TYPE_CHECKING:  # the same names for type checkers and IDEs
    from vizcore.export.projector import (  # noqa: F401
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
    from vizcore.export.tsv import finite_vectors, write_vectors_tsv  # noqa: F401
