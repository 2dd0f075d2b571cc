"""Quality of the bundled tiny ViT on fresh held-out scenes: accuracy and where its attention rollout goes.

    python benchmarks/tiny_vit_quality.py [--n 2000] [--seed-split check]

The scenes come from a seed the recipe never trains or tests on (`data_seed(card seed, "check")`), with the
clutter the model was trained at. The rollout ratio is (rollout mass on object patches) / (object patches'
share of the image), averaged over scenes; an object patch is >= 50% covered by the object; 1.0 = no focus.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from vizcore.data.scenes import data_seed, make_scenes
from vizcore.models.bundled import handle_from_card, models_dir
from vizcore.train.vit import evaluate_vit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="number of fresh scenes")
    ap.add_argument("--seed-split", choices=["check", "test"], default="check",
                    help="'check': never seen in training or testing; 'test': the card's own held-out set")
    args = ap.parse_args()

    card_path = models_dir() / "tiny_vit.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    handle = handle_from_card(card, card_path.with_suffix(".safetensors"), "bundled:tiny_vit")
    seed = data_seed(card["seed"], args.seed_split)
    scenes = make_scenes(args.n, seed=seed, size=card["preprocess"]["size"][0],
                         clutter=card["data"]["params"]["clutter"])
    start = time.perf_counter()
    m = evaluate_vit(handle, scenes)
    seconds = time.perf_counter() - start

    print(f"bundled:tiny_vit on {args.n} fresh scenes (split '{args.seed_split}', seed {seed}), "
          f"torch {torch.__version__}, {platform.machine()}, {torch.get_num_threads()} threads")
    print(f"held-out accuracy      {m['accuracy']:.4f}")
    print(f"rollout ratio (mean)   {m['rollout_ratio']:.3f}   median {m['rollout_ratio_median']:.3f}   "
          f"(mass on object {m['object_mass']:.3f} / object share {m['object_share']:.3f}; "
          f"{m['rollout_scenes']} scenes with an object patch)")
    print("per class              " + ", ".join(f"{k} {v:.3f}" for k, v in m["per_class_accuracy"].items()))
    print(f"card says              accuracy {card['metrics']['accuracy']:.4f}, "
          f"rollout ratio {card['metrics']['rollout_ratio']:.3f}   ({seconds:.1f} s to evaluate)")


if __name__ == "__main__":
    main()
