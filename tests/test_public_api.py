import ast
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
        # One idea per module: 300 lines at most (issue #14; STYLE.md 3.1).
        assert lines <= 300, f"{path} has {lines} lines; split it (STYLE.md 3.1)"
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
        if path.name in ("_cli.py", "_cli_run.py", "_apps.py", "_app_reproduce.py"):
            continue
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
