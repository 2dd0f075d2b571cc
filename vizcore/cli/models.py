"""`vizcore models` (bundled and curated models: purpose, size, licence, weights here or not) and `vizcore app`
(start the web app)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import vizcore as vc
from vizcore.models import format_size


def add(sub) -> None:
    m = sub.add_parser("models", help="list the bundled and curated models, with whether their weights are here",
                       epilog="Example: vizcore models  (then: vizcore download timm:vit_small_patch16_224.dino)")
    m.set_defaults(run=_models)

    s = sub.add_parser("app", help="start the web app (streamlit run app.py)",
                       epilog="Example: vizcore app --port 8501")
    s.add_argument("--port", type=int, default=8501)
    s.set_defaults(run=_app)


def _models(args) -> int:
    infos = vc.list_models()
    print("Bundled (trained here, in assets/models; each knows only its own small domain):")
    for info in (i for i in infos if i.spec.startswith("bundled:")):
        print(f"  {info.spec:28s} {info.kind:4s} {info.title}: trained on {info.trained_on or 'see its card'}")
    print("\nCurated pretrained models (weights from the Hugging Face Hub on request):")
    for info in (i for i in infos if not i.spec.startswith("bundled:")):
        here = "weights here" if info.offline else f"not here: vizcore download {info.spec}"
        print(f"  {info.spec}\n    {info.title} · {format_size(info.size_bytes)} · licence {info.licence} · {here}"
              f"\n    {info.description}\n    trained on {info.trained_on}; pages: {', '.join(info.pages)}")
    print("\nAny other timm ViT (timm:<name>), Hugging Face repo (hf:<org>/<name>) or local checkpoint "
          "(file:<path>) works too; without weights, --random-weights explores the architecture untrained.")
    return 0


def _app(args) -> int:
    app = Path(__file__).resolve().parents[2] / "app.py"
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
                            "--browser.gatherUsageStats", "false"])
