"""`vizcore download SPEC...`: fetch pretrained weights into the Hugging Face cache, with the size first and a
progress bar (bytes, rate, time left). The only command that uses the network, and only for the specs named."""

from __future__ import annotations

import sys

from huggingface_hub import constants
from tqdm import tqdm

from vizcore.errors import VizcoreError
from vizcore.models import CURATED, format_size, weights_present
from vizcore.models import download as dl
from vizcore.models.curated import lookup

INTERRUPTED = 130  # the shell's code for Ctrl-C


def add(sub) -> None:
    d = sub.add_parser(
        "download", help="download pretrained weights (timm:<name>, hf:<repo id>) into the Hugging Face cache",
        description="Fetch the weights of each SPEC into the Hugging Face cache ($HF_HOME/hub), where timm, "
                    "transformers and vizcore read them offline. Shows the size first; an interrupted download "
                    "resumes when run again. Honours HF_ENDPOINT, HF_HOME, HF_HUB_OFFLINE and HF_TOKEN.",
        epilog="Example: vizcore download timm:vit_small_patch16_224.dino   (more: vizcore download --curated)")
    d.add_argument("specs", nargs="*", metavar="SPEC", help="timm:<name> or hf:<org>/<name>[@revision]")
    d.add_argument("--curated", action="store_true", help="every curated model whose weights are not here yet")
    d.add_argument("--dry-run", action="store_true", help="show what would be downloaded and how big, then stop")
    d.add_argument("--timeout", type=float, default=dl.DEFAULT_TIMEOUT,
                   help=f"seconds to wait for the Hub before giving up (default {dl.DEFAULT_TIMEOUT:g})")
    d.set_defaults(run=_download)


def _download(args) -> int:
    specs = list(dict.fromkeys(args.specs + ([c.spec for c in CURATED if not weights_present(c.spec)]
                                             if args.curated else [])))
    if not specs:
        if args.curated:
            print("Every curated model's weights are already here.")
            return 0
        print("vizcore download: name at least one SPEC (e.g. timm:vit_small_patch16_224.dino) or use --curated.",
              file=sys.stderr)
        return 2
    failed = []
    for spec in specs:
        try:
            _one(spec, args)
        except KeyboardInterrupt:
            print(f"\nvizcore: download of {spec} interrupted; run the same command again to resume.", file=sys.stderr)
            return INTERRUPTED
        except VizcoreError as e:
            print(f"vizcore: {spec}: {e}", file=sys.stderr)
            failed.append(spec)
        except OSError as e:  # a full disk or an unwritable cache, mid-transfer (the partial file is kept)
            print(f"vizcore: {spec}: the download stopped: {e}. Free some disk space (or set HF_HOME to a larger, "
                  "writable disk) and run the same command again to resume.", file=sys.stderr)
            failed.append(spec)
    if failed and len(specs) > 1:
        print(f"vizcore: {len(failed)} of {len(specs)} downloads failed: {', '.join(failed)}", file=sys.stderr)
    return 2 if failed else 0


def _one(spec: str, args) -> None:
    p = dl.plan(spec, timeout=args.timeout)
    entry = lookup(spec)
    name = f"{entry.title} ({spec})" if entry else spec
    files = ", ".join(f"{f} {format_size(n, approx=False)}" for f, n in p.files)
    print(f"{name}: {p.repo_id} at {p.revision[:12]}: {files}; total {format_size(p.total_bytes, approx=False)} "
          f"into {constants.HF_HUB_CACHE}")
    if args.dry_run:
        return
    with tqdm(total=p.total_bytes, unit="B", unit_scale=True, unit_divisor=1000, desc=spec.split("/")[-1][:40],
              file=sys.stderr, dynamic_ncols=True, mininterval=0.2) as bar:

        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        folder = dl.download(p, progress=progress, timeout=args.timeout)
    command = "mae" if entry is not None and entry.kind == "mae" else "attention"
    print(f"done: {folder}\nuse it: vizcore {command} photo.jpg --model {spec}  (or pick it in the app)")
