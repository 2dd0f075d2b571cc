"""`vizcore models` (what is available offline) and `vizcore app` (start the web app)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import vizcore as vc


def add(sub) -> None:
    m = sub.add_parser("models", help="list models available offline",
                       epilog="Example: vizcore models")
    m.set_defaults(run=_models)

    s = sub.add_parser("app", help="start the web app (streamlit run app.py)",
                       epilog="Example: vizcore app --port 8501")
    s.add_argument("--port", type=int, default=8501)
    s.set_defaults(run=_app)


def _models(args) -> int:
    for info in vc.list_models():
        where = "offline" if info.offline else "no local weights (random only)"
        print(f"{info.spec:55s} {where:32s} {info.title}")
    return 0


def _app(args) -> int:
    app = Path(__file__).resolve().parents[2] / "app.py"
    return subprocess.call([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
                            "--browser.gatherUsageStats", "false"])
