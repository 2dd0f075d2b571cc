"""The shared training loop pieces: learning-rate schedule, progress reporting, command line, saving a model.

Every recipe (`vizcore.train.vit`, `.autoencoders`, `.mae`) reports progress through a `Progress` callback and
writes `<name>.safetensors` + `<name>.json` (its model card) through `save`.
May import: nothing above `vizcore.train` (torch, safetensors, tqdm only).
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch.nn as nn

Progress = Callable[[int, int, dict], "bool | None"]  # (step, total_steps, {"loss": ...}); True asks to stop early


def lr_factor(step: int, total: int, warmup: int, floor: float) -> float:
    """Linear warm-up over `warmup` steps, then cosine from 1 to `floor`."""
    if step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def save(model: nn.Module, card: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write `<name>.safetensors` and `<name>.json` into `out_dir`; returns both paths."""
    from safetensors.torch import save as to_safetensors

    out_dir.mkdir(parents=True, exist_ok=True)
    weights, card_path = out_dir / f"{card['name']}.safetensors", out_dir / f"{card['name']}.json"
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    # bytes + write_bytes rather than save_file, which creates the file readable by its owner only
    weights.write_bytes(to_safetensors(state, metadata={"format": "pt", "vizcore_card": card["name"]}))
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return weights, card_path


def command_line() -> str:
    """The command that is running, as recorded in model cards (e.g. "vizcore train vit --epochs 2")."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("vizcore/train.py", "vizcore\\train.py")):
        argv[0:1] = ["python", "-m", "vizcore.train"]
    elif argv:
        argv[0] = Path(argv[0]).name
    return shlex.join(argv)


def tqdm_progress(total: int | None = None, **tqdm_kwargs) -> Progress:
    """A `Progress` callback drawing a tqdm bar (total taken from the first call when not given).

    The bar starts now, before the work: started at the first report, its clock would begin after the work it is
    reporting (an embedding whose one report comes at the end showed 27,812,414 step/s).
    """
    from tqdm import tqdm

    bar = tqdm(total=total, unit=tqdm_kwargs.pop("unit", "step"), dynamic_ncols=True, **tqdm_kwargs)

    def update(step: int, steps: int, metrics: dict) -> None:
        if bar.total is None:
            bar.total = steps
        bar.update(step - bar.n)
        bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if isinstance(v, (int, float)) and k != "step"},
                        refresh=False)
        if step >= bar.total:
            bar.close()

    return update
