"""Training recipes for the bundled models on one shared loop (`loop`: schedule, progress, command line, saving
weights + model card): `vit` (the tiny ViT on scenes), `autoencoders` (AE, sparse AE, VAE), `mae` (the tiny MAE).

Imported only by the interface (`vizcore train ...`, in-app training) and its own tests.
May import: `vizcore.analysis`, `vizcore.models`, `vizcore.data`, `vizcore.io`, `vizcore.errors`.
"""
