"""Quality of the bundled autoencoders on held-out data: AE vs PCA at equal k, VAE active dims, classifiers.

    python benchmarks/autoencoder_quality.py [--json out.json]

- Reconstruction: held-out MSE per pixel of each bundled AE with a k-d code vs PCA with k components fitted on
  the same training digits (the shared split of `vizcore.train_ae.holdout`: 1,437 train / 360 held out).
- VAEs: total KL (nats per image) and active dimensions (Var of mu over held-out images > 0.01, Burda et al.
  2016), on held-out digits or on the registered sprites set (never trained on).
- Classification: held-out accuracy of the same standardised logistic regression on the model's code, on PCA
  with the same k and on the raw 64 pixels.
- Interpolation: t = 0 and t = 1 decode exactly to the decodes of the endpoints' codes (max abs difference; each
  decoded on its own, since a batched decode may round differently with the batch size).
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

import vizcore as vc
from vizcore.analysis import classify, latent
from vizcore.train.autoencoders import heldout, holdout


def _bundled(kind: str) -> list:
    return [vc.load_model(i.spec) for i in vc.list_models() if i.kind == kind]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args()
    start = time.perf_counter()
    train, test = holdout("digits")
    xtr, xte = train.images.flatten(1).numpy(), test.images.flatten(1).numpy()
    out: dict = {"reconstruction": [], "vae": [], "classification": [], "interpolation": []}

    print("AE vs PCA, held-out MSE per pixel (digits)")
    print(f"{'k':>4} {'AE':>9} {'PCA':>9} {'AE/PCA':>7}")
    for h in sorted(_bundled("ae"), key=lambda h: h.latent_dim):
        k = h.latent_dim
        ae = float(latent.reconstruction_mse(h, test.images).mean())
        pca = classify.pca_reconstruction_mse(xtr, xte, k)
        out["reconstruction"].append({"model": h.info.spec, "k": k, "ae_mse": ae, "pca_mse": pca})
        print(f"{k:>4} {ae:9.5f} {pca:9.5f} {ae / pca:7.2f}")

    print("\nVAEs: held-out MSE, KL and active dimensions")
    print(f"{'model':28s} {'data':8s} {'D':>3} {'beta':>5} {'MSE':>8} {'KL nats':>8} {'active':>6}")
    for h in _bundled("vae"):
        images = heldout(h.dataset).images
        s = latent.latent_stats(h, images)
        mse = float(latent.reconstruction_mse(h, images).mean())
        beta = h.card["recipe"]["beta"]
        out["vae"].append({"model": h.info.spec, "dataset": h.dataset, "latent_dim": h.latent_dim, "beta": beta,
                           "mse": mse, "kl": float(s.kl.sum()), "active_dims": s.num_active})
        print(f"{h.info.spec:28s} {h.dataset:8s} {h.latent_dim:>3} {beta:5g} {mse:8.5f} {float(s.kl.sum()):8.2f} "
              f"{s.num_active:>6}")
        z = h.encode(images[:2])
        for method in latent.METHODS:
            p = latent.interpolation_path(h, z[0], z[1], 9, method=method)
            ends = torch.cat([h.decode(z[0:1]), h.decode(z[1:2])])  # each endpoint's code decoded on its own
            gap = float((torch.stack([p.images[0], p.images[-1]]) - ends).abs().max())
            out["interpolation"].append({"model": h.info.spec, "method": method, "max_abs_endpoint_gap": gap})

    print("\nHeld-out accuracy of a logistic regression (digits)")
    print(f"{'model':28s} {'k':>4} {'code':>7} {'PCA':>7} {'pixels':>7}")
    for h in _bundled("ae") + _bundled("sae") + _bundled("vae"):
        if h.dataset != "digits":
            continue
        r = {p.features: p for p in classify.compare_features(h, train.images, train.labels, test.images,
                                                               test.labels)}
        out["classification"].append({"model": h.info.spec, "k": h.latent_dim,
                                      **{k: v.accuracy for k, v in r.items()}, "pca_dims": r["PCA"].dims})
        print(f"{h.info.spec:28s} {h.latent_dim:>4} {r['code'].accuracy:7.1%} {r['PCA'].accuracy:7.1%} "
              f"{r['pixels'].accuracy:7.1%}")

    gaps = max(g["max_abs_endpoint_gap"] for g in out["interpolation"])
    print(f"\ninterpolation endpoints vs endpoint decodes: max abs difference {gaps:g} (exact = 0)")
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["machine"] = {"python": platform.python_version(), "torch": torch.__version__}
    print(f"{out['seconds']} s")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
