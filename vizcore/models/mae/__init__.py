"""The masked autoencoder (He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022): the module
with the official parameter names (`model`), official and Hugging Face checkpoint conversion (`checkpoints`) and
the handle that puts its encoder behind the ViT protocol (`handle`). Reconstructions: `vizcore.analysis.mae`.

May import: `vizcore.models` modules below it, `vizcore.io`, `vizcore.errors`.
"""
