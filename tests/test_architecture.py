"""The package's layers, proved from the source: imports flow one way, no cycles, no `__import__`.

The import graph is built from the AST of every module under `vizcore/` (function-level imports included), so a
lazy import cannot hide an arrow that points back up. Layers, lowest first (see README "Architecture"):

    base      vizcore.errors, vizcore.numba_cache,       imports nothing from vizcore
              vizcore.threads, vizcore.lazy
    io        vizcore.io.*                               base
    data      vizcore.data.*                             io, base
    models    vizcore.models.*                           io, base
    analysis  vizcore.analysis.*                         models, data, io, base
    output    vizcore.figures.*, vizcore.export.*        analysis and below (figures may use export's rendering)
    train     vizcore.train.*                            analysis and below (imported only by the interface)
    interface vizcore.ui.*, vizcore.cli, vizcore.__main__ everything
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "vizcore"

LAYERS = {
    "base": 0, "io": 1, "data": 2, "models": 2, "analysis": 3, "figures": 4, "export": 4, "train": 5,
    "interface": 6, "root": 6,
}
# (importer layer, imported layer) pairs allowed although not strictly downward.
SIDEWAYS = {("figures", "export")}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    if module == "vizcore":
        return "root"
    if parts[1] in ("errors", "numba_cache", "threads", "lazy"):
        return "base"
    if parts[1] in ("ui", "cli", "__main__"):
        return "interface"
    return parts[1]


def _modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _targets(node: ast.AST, importer: str, known: set[str]) -> list[str]:
    """vizcore modules an import statement loads (the submodule when `from pkg import sub` names one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "vizcore"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:  # relative import: resolve against the importer's package
        base = importer.split(".")
        pkg = base if (ROOT.parent / Path(*base) / "__init__.py").exists() else base[:-1]
        mod = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
    else:
        mod = node.module or ""
    if mod.split(".")[0] != "vizcore":
        return []
    out = []
    for a in node.names:
        sub = f"{mod}.{a.name}"
        out.append(sub if sub in known else mod)
    return out


def _lazy_table(tree: ast.Module) -> set[str] | None:
    """Modules a package loads on first use: the values of its module-level `_LAZY` literal table (PEP 562
    `__getattr__`, or the CLI's command table); None when the module has no such table."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_LAZY" for t in node.targets):
            return set(ast.literal_eval(node.value).values())
    return None


def lazy_packages() -> dict[str, set[str]]:
    """Package `__init__` modules with a `_LAZY` table -> the modules the table names (the root, `vizcore.models`,
    `vizcore.cli`, `vizcore.ui.cache`)."""
    out = {}
    for name, path in _modules().items():
        if path.name == "__init__.py":
            table = _lazy_table(ast.parse(path.read_text(encoding="utf-8")))
            if table is not None:
                out[name] = table
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> vizcore modules it imports anywhere in its body (for a lazy package, also its lazy table)."""
    mods = _modules()
    known = set(mods)
    lazy = lazy_packages()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[name] = {t for node in ast.walk(tree) for t in _targets(node, name, known) if t != name}
        graph[name] |= lazy.get(name, set())
    return graph


def test_graph_sees_every_module_and_lazy_imports():
    graph = import_graph()
    assert len(graph) > 40
    assert "vizcore.models.vit" in graph["vizcore.models.timm_source"]
    assert {"vizcore.models", "vizcore.analysis.attention"} <= graph["vizcore"]
    assert {"vizcore.models.registry", "vizcore.models.catalog"} <= graph["vizcore.models"]


def test_import_vizcore_is_light():
    """`import vizcore` loads no model or plotting library: pages and commands pay only for what they use."""
    import subprocess
    import sys

    code = ("import sys, vizcore; heavy = [m for m in ('torch', 'timm', 'sklearn', 'plotly', 'streamlit', 'pandas') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import vizcore pulled in {out}"


def test_lazy_tables_name_real_modules():
    """Every module a lazy table names exists, so the arrows the graph reads from the tables are real."""
    known = set(_modules())
    assert {"vizcore", "vizcore.models"} <= set(lazy_packages())
    missing = {(pkg, m) for pkg, table in lazy_packages().items() for m in table if m not in known}
    assert not missing, f"lazy tables name modules that do not exist: {missing}"


def test_no_dunder_import_or_importlib():
    """Dynamic imports hide arrows; the one exception is `vizcore.lazy.load`, used only for the values of a
    package's `_LAZY` table (which the graph reads)."""
    offenders = []
    for name, path in _modules().items():
        if name == "vizcore.lazy":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "__import__", "import_module"):
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, f"dynamic imports hide the graph: {offenders}"


def test_only_lazy_packages_load_by_name():
    """`vizcore.lazy` (its `load` and `lazy_attributes`) is used only by packages with a `_LAZY` table."""
    graph = import_graph()
    users = {m for m, ts in graph.items() if "vizcore.lazy" in ts}
    assert users <= set(lazy_packages()), f"load by name outside a lazy table: {users - set(lazy_packages())}"


def test_no_import_cycles():
    graph = import_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def _is_package_init(module: str) -> bool:
    return (ROOT.parent / Path(*module.split(".")) / "__init__.py").exists()


def test_imports_flow_down_the_layers():
    graph = import_graph()
    wrong = []
    for importer, targets in graph.items():
        src = layer(importer)
        for target in targets:
            dst = layer(target)
            if src == "interface" and target == "vizcore":
                continue  # the interface may speak the public API (`import vizcore as vc`)
            if target == "vizcore" or (importer.startswith(target + ".") and _is_package_init(target)):
                wrong.append(f"{importer} -> {target} (a module must not import its own package or the root)")
            elif dst == src or (src, dst) in SIDEWAYS or src in ("interface", "root"):
                continue
            elif LAYERS[dst] >= LAYERS[src] or dst in ("interface", "train"):
                wrong.append(f"{importer} ({src}) -> {target} ({dst})")
    assert not wrong, "imports pointing up or sideways:\n" + "\n".join(wrong)


def test_root_exposes_no_interface_or_training():
    graph = import_graph()
    assert not {t for t in graph["vizcore"] if layer(t) in ("interface", "train")}


@pytest.mark.parametrize("kind", ["ui", "train"])
def test_ui_and_train_are_imported_only_by_the_interface(kind: str):
    graph = import_graph()
    importers = {m for m, ts in graph.items() for t in ts if layer(t) == kind and layer(m) not in (kind, "interface")}
    assert not importers, f"{kind} imported from below the interface: {importers}"


def test_streamlit_only_in_ui():
    offenders = []
    for name, path in _modules().items():
        if layer(name) == "interface" and name.startswith("vizcore.ui"):
            continue
        text = path.read_text(encoding="utf-8")
        if "import streamlit" in text or "from streamlit" in text:
            offenders.append(name)
    assert not offenders


def test_function_level_imports_are_only_optional_heavy_dependencies():
    """Imports inside functions are allowed only for third-party packages that are slow to import or optional;
    vizcore's own modules are always imported at the top, so the graph above is the whole truth."""
    offenders = []
    mods = _modules()
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if _targets(node, name, set(mods)):
                    offenders.append(f"{name}:{node.lineno}")
    assert not offenders, f"vizcore imports inside functions: {offenders}"


def test_modules_stay_small():
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    too_big = {n: s for n, s in sizes.items() if s > 400}
    assert not too_big, f"modules over 400 lines: {too_big}"


def test_the_ui_cache_has_one_public_namespace():
    """Every cached function of every page family is reachable as `cache.<name>` (the one cache the views use)."""
    import inspect

    from vizcore.ui import cache

    for sub in (cache.core, cache.vit, cache.latent, cache.projector):
        public = {n for n, v in vars(sub).items() if not n.startswith("_") and getattr(v, "__module__", "") ==
                  sub.__name__ and (inspect.isfunction(v) or inspect.isclass(v) or hasattr(v, "clear"))}
        missing = {n for n in public if getattr(cache, n, None) is not getattr(sub, n)}
        assert not missing, f"{sub.__name__}: not exported by vizcore.ui.cache: {sorted(missing)}"
