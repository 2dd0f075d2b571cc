"""Analyses: pure functions from a model handle and images (or arrays) to small frozen dataclasses.

`attention` (capture, rollout, gradient rollout), `tokens` (the one token path and pooling), `posembed`,
`anatomy` (+ `blocks`, `cka`), `latent` (VAE paths, traversals), `mae` (reconstructions and masking), `embeddings`,
`projection` (PCA / t-SNE / UMAP), `scores` (kNN accuracy, linear probe, trustworthiness), `classify`, `sparse`.
The package itself imports nothing, so `import vizcore.analysis.attention` loads only what attention needs.

May import: `vizcore.models`, `vizcore.data`, `vizcore.io`, `vizcore.errors` (never figures, export or the interface).
"""
