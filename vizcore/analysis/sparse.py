"""What a sparse autoencoder's units do: activation statistics, dead units and top-activating inputs.

A unit is *active* on an input when its code value exceeds a threshold (0 for ReLU and top-k codes; sigmoid
codes of the KL-sparsity variant are never exactly 0, so they use 0.5); a unit active on no input of a data set
is *dead* on it. Top-activating inputs are the usual first look at what a dictionary unit responds to.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vizcore.errors import InputError


def active_threshold(sparsity: str) -> float:
    """Code value above which a unit counts as active, per sparsity mechanism."""
    return 0.5 if sparsity == "kl" else 0.0


@dataclass(frozen=True)
class SparseStats:
    """Activation statistics of codes (N, D).

    Attributes:
        active_fraction: (N,) share of the D units active on each input.
        unit_frequency: (D,) share of the inputs each unit is active on.
        dead: (D,) bool, units active on no input.
        threshold: the activity threshold used.
    """

    active_fraction: torch.Tensor
    unit_frequency: torch.Tensor
    dead: torch.Tensor
    threshold: float

    @property
    def num_dead(self) -> int:
        return int(self.dead.sum())


def sparse_stats(codes: torch.Tensor, threshold: float = 0.0) -> SparseStats:
    """Activity per input and per unit of codes (N, D)."""
    if codes.ndim != 2 or len(codes) == 0:
        raise InputError(f"Expected codes shaped (N, D) with N >= 1; got {tuple(codes.shape)}.")
    on = codes > threshold  # (N, D)
    freq = on.float().mean(0)  # (D,)
    return SparseStats(on.float().mean(1), freq, freq == 0, threshold)


def top_activating(codes: torch.Tensor, unit: int, k: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (k,) of the inputs where `unit` is largest, and those values (k,), largest first."""
    if not 0 <= unit < codes.shape[1]:
        raise InputError(f"Unit {unit} does not exist; pick one between 0 and {codes.shape[1] - 1}.")
    vals, idx = codes[:, unit].topk(min(k, len(codes)))
    return idx, vals
