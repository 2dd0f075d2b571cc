"""Public names that load on first use (PEP 562), for packages whose modules import slow libraries.

A package lists its public names in a module-level `_LAZY` table (public name -> the module defining it; a module
listed under its own last name is the module itself) and installs the two hooks:

    _LAZY = {"load_model": "vizcore.models.registry", ...}
    __getattr__, __dir__ = lazy_attributes("vizcore.models", _LAZY, globals())

Then `import vizcore.models` costs milliseconds and `vizcore.models.load_model` imports torch when first touched.
tests/test_architecture.py reads every `_LAZY` table as import arrows, and this module is the only place that
imports by name (`load`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType


def load(module: str) -> ModuleType:
    """Import `module` by name: only for the values of a `_LAZY` table (the architecture test reads those)."""
    return importlib.import_module(module)


def lazy_attributes(package: str, table: dict[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """The PEP 562 `__getattr__` and `__dir__` for `package`, whose public names are the keys of `table`.

    A name loads on first use and is stored in `namespace` (the package's `globals()`), so later lookups are plain
    attribute reads. Other names raise AttributeError, which lets `from package import submodule` fall back to
    importing the submodule.
    """

    def get_attribute(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = load(table[name])
        value = module if module.__name__.rsplit(".", 1)[-1] == name else getattr(module, name)
        namespace[name] = value
        return value

    def list_attributes() -> list[str]:
        return sorted(set(namespace) | set(table))

    return get_attribute, list_attributes
