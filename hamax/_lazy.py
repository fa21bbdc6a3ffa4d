"""Lazy access to hamax's subpackages, so `import hamax; hamax.training` works.

`hamax/__init__.py` re-exports this module's `__getattr__` and `__dir__` (PEP 562).
A subpackage is imported on first attribute access, not by `import hamax`: the
subpackages built on extras (`hamax.plot` on matplotlib, `hamax.ode` on diffrax)
must not slow down or break `import hamax` where those extras are missing.
"""

import importlib
import importlib.util
import pkgutil
import sys
import types


def _subpackages() -> list[str]:
    # Public subpackages are the directories with an `__init__.py` whose name does
    # not start with an underscore; found on disk so a new one needs no edit here.
    hamax = sys.modules["hamax"]
    return sorted(
        info.name
        for info in pkgutil.iter_modules(hamax.__path__)
        if info.ispkg and not info.name.startswith("_")
    )


def __getattr__(name: str) -> types.ModuleType:
    """Import the public subpackage `hamax.<name>` on first access."""
    # Python calls this only for names missing from hamax's namespace.
    if name in _subpackages():
        return importlib.import_module(f"hamax.{name}")
    raise AttributeError(
        f"module 'hamax' has no attribute {name!r}. Its public names are listed by "
        f"dir(hamax); its subpackages are {', '.join(_subpackages())}."
    )


def __dir__() -> list[str]:
    """The names in hamax's namespace plus its not yet imported subpackages."""
    return sorted(set(vars(sys.modules["hamax"])) | set(_subpackages()))
