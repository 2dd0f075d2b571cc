"""Errors a user can cause. Each message is a sentence that says what to do next."""

from __future__ import annotations


class VizcoreError(Exception):
    """Base of every error a user can cause (bad file, unknown model, too-large image, ...)."""


class ImageError(VizcoreError):
    """An image could not be decoded or is outside the limits vizcore accepts."""


class ModelError(VizcoreError):
    """A model spec, checkpoint or weight file could not be turned into a model."""


class WeightsUnavailableError(ModelError):
    """Pretrained weights are not on this machine (no network is used to fetch them)."""


class CheckpointError(ModelError):
    """A checkpoint file is unsafe, corrupt or does not fit the architecture."""


class AttentionCaptureError(VizcoreError):
    """No attention was captured from a model (it has no attention layers vizcore can hook)."""


class InputError(VizcoreError):
    """An argument is outside what the analysis accepts (e.g. an empty selection)."""
