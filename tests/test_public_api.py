import ast
import graphlib
import inspect
import pathlib

import pytest

import hamax


ROOT = pathlib.Path(hamax.__file__).parent
PACKAGES = [
    "hamax",
    "hamax.lagrangians",
    "hamax.synapses",
    "hamax.zoo",
    "hamax.data",
    "hamax.training",
    "hamax.dynamics",
    "hamax.memory",
    "hamax.plot",
    "hamax.ode",
    "hamax.compat",
    "hamax.compat.v01",
    "hamax.compat.v02",
]
DOCS = pathlib.Path(__file__).parent.parent / "docs"


def public_objects():
    import importlib

    for pkg in PACKAGES:
        mod = importlib.import_module(pkg)
        for name, obj in vars(mod).items():
            if name.startswith("_") or inspect.ismodule(obj):
                continue
            yield pkg, name, obj


@pytest.mark.parametrize(
    "pkg, name, obj",
    list(public_objects()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_documented(pkg, name, obj):
    if isinstance(obj, dict | str):  # registries and __version__
        return
    assert inspect.getdoc(obj), f"{pkg}.{name} has no docstring"
    api = "\n".join(p.read_text() for p in (DOCS / "api").glob("*.md"))
    # A re-export (e.g. hamax.compat.lagr_tanh) may be documented under any of
    # the public names of the same object.
    names = [f"{p}.{n}" for p, n, o in public_objects() if o is obj]
    assert any(f"::: {n}" in api for n in names), (
        f"{pkg}.{name} is missing from docs/api/*.md"
    )


def test_layout_rules():
    for path in ROOT.rglob("*.py"):
        lines = path.read_text().count("\n")
        # One idea per module; split past about 600 lines, not before (STYLE.md
        # 3.1, 3.2; issue #25: a lower cap split ideas in two).
        assert lines <= 600, f"{path} has {lines} lines; split it (STYLE.md 3.1)"
        if path.name == "__init__.py":
            tree = ast.parse(path.read_text())
            for node in tree.body:
                ok = (
                    isinstance(node, ast.ImportFrom | ast.Import)
                    or (
                        isinstance(node, ast.Assign)
                        and node.targets[0].id == "__version__"  # type: ignore[attr-defined]
                    )
                    or (
                        isinstance(node, ast.Expr)
                        and isinstance(node.value, ast.Constant)
                    )
                )
                assert ok, f"{path} holds more than re-exports"
                if isinstance(node, ast.ImportFrom):
                    assert all(a.asname == a.name for a in node.names), (
                        f"{path}: use `import X as X`"
                    )
        else:
            assert path.name.startswith("_"), f"{path}: modules are private (_x.py)"


def test_no_print_in_library():
    for path in ROOT.rglob("*.py"):
        if path.parent.name == "_cli" and path.name not in ("_figures.py", "_types.py"):
            continue  # the command line's programs print their results
        tree = ast.parse(path.read_text())
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"
        ]
        assert not calls, f"{path} calls print"


def test_core_import_does_not_pull_extras():
    import subprocess
    import sys

    code = "import sys, hamax; bad = [m for m in ('diffrax', 'optimistix', 'matplotlib') if m in sys.modules]; print(bad)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# The rooms of hamax (STYLE.md 3.2, issue #25) and which rooms each one may
# import at module level. The root holds the model (`model`) and its base types
# (`base`); every later stage is a folder. Read bottom-up: base < lagrangians <
# synapses < model < dynamics < ode, memory < zoo < _io < data < training <
# plot < compat < _cli. `hamax` is the package's `__init__`, the public
# re-exports: only the command line imports it (for `__version__`).
BASE = {"hamax._custom_types", "hamax._misc", "hamax._lazy"}
MODEL = {"hamax._neurons", "hamax._graph", "hamax._ham", "hamax._system"}
MODEL |= {"hamax._system_checks"}
LAYERS: dict[str, set[str]] = {
    "base": set(),
    "lagrangians": {"base"},
    "synapses": {"base", "lagrangians"},
    "model": {"base", "lagrangians", "synapses"},
    "dynamics": {"base", "model"},
    "ode": {"base", "model", "dynamics"},
    "memory": {"base", "lagrangians", "synapses", "model", "dynamics"},
    "zoo": {"base", "lagrangians", "synapses", "model", "memory"},
    "_io": {"base", "lagrangians", "synapses", "model"},
    "data": {"_io"},
    # synapses: shard_memories places DenseHiddenSynapse memories on a mesh.
    "training": {"base", "lagrangians", "synapses", "model", "dynamics", "zoo"}
    | {"_io", "data"},
    "plot": set(),
    "compat": {"base", "lagrangians", "synapses", "model", "_io", "plot"},
    "_cli": {"hamax", "model", "dynamics", "memory", "zoo", "_io", "data"}
    | {"training", "plot"},
}

# The only imports allowed inside functions, each with its reason. A module
# name ending in "*" matches its submodules too.
LOCAL_IMPORTS = {
    # optional dependencies: the `plot` extra, lineax (with the `implicit` extra)
    ("*", "matplotlib*"): "optional dependency (the plot extra)",
    ("hamax.dynamics._adjoint", "lineax"): "optional dependency (Implicit(solver=))",
    # the spec registry walks the public package, fully initialised, and
    # registers compat's classes on first use, so `import hamax` imports neither
    ("hamax._io._spec_registry", "hamax"): "the registry walks the package",
    ("hamax._io._spec_registry", "hamax.compat"): "lazy compat registration",
}


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: pathlib.Path):
    """(imported module, inside a function?) for every import in `path`."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    local = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        for n in ast.walk(f)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            # `from . import x` imports a submodule when `x` is one.
            targets = [
                f"{base}.{a.name}"
                if (ROOT.parent / f"{base}.{a.name}".replace(".", "/")).exists()
                or (ROOT.parent / f"{base}.{a.name}".replace(".", "/"))
                .with_suffix(".py")
                .exists()
                else base
                for a in node.names
            ]
        else:
            continue
        for t in targets:
            yield t, id(node) in local


def _room(module: str) -> str:
    if module == "hamax":
        return "hamax"
    if module in BASE:
        return "base"
    if module in MODEL:
        return "model"
    return module.split(".")[1]


def _matches(pattern: str, name: str) -> bool:
    return name == pattern.rstrip("*") or (
        pattern.endswith("*") and name.startswith(pattern.rstrip("*"))
    )


def test_layering():
    # Which folder may import which (issue #25): every module-level import of a
    # hamax module goes to the module's own room or to one its room may import.
    assert set(LAYERS) == {_room(_module_name(p)) for p in ROOT.rglob("*.py")} - {
        "hamax"
    }
    tuple(graphlib.TopologicalSorter(LAYERS).static_order())  # the table: no circle
    bad = []
    for path in ROOT.rglob("*.py"):
        src = _module_name(path)
        for target, local in _imports(path):
            if local or src == "hamax" or not target.startswith("hamax"):
                continue
            a, b = _room(src), _room(target)
            if a != b and b not in LAYERS[a]:
                bad.append(f"{src} imports {target} ({a} may not import {b})")
    assert not bad, "\n".join(bad)


def test_no_import_circles():
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        src = _module_name(path)
        graph[src] = {
            t.removesuffix(".__version__")
            for t, local in _imports(path)
            if not local and t.startswith("hamax") and t != src
        }
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as e:
        raise AssertionError(f"import circle: {' -> '.join(e.args[1])}") from None


def test_function_local_imports_are_listed():
    # No imports inside functions except the short, commented list above.
    bad = [
        f"{_module_name(path)} imports {target} inside a function"
        for path in ROOT.rglob("*.py")
        for target, local in _imports(path)
        if local
        and not any(
            _matches(m, _module_name(path)) and _matches(t, target)
            for m, t in LOCAL_IMPORTS
        )
    ]
    assert not bad, "\n".join(bad)
