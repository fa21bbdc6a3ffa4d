"""Run the original hamux notebooks' test cells against hamax.compat.v01 / v02.

    python benchmarks/hamux_notebooks.py /path/to/hamux.git [--verbose]

The argument is a clone (or bare git directory) of github.com/bhoov/hamux; the
notebooks are read from it with `git show`, never copied into hamax. For each
release (the commit that set `version = 0.1.1`, and the one that set 0.2.2) every
notebook is run as nbdev's test runner would, in order and in one namespace,
with three differences:

- cells that nbdev exports (`#| export`) are hamux's own library code: they are
  not run; `from hamax.compat.v0X import *` stands in for them (and for any
  private helper they define that hamax also has);
- import lines of `hamux` are pointed at `hamax.compat.v0X`; fastcore's `test_*`
  helpers, `show_doc`, `HTML` and `plt.show` are small local stand-ins;
- documentation-only cells (`show_doc`, `HTML`, `nbdev_export`, pure imports)
  are run but not counted.

A "test cell" is any other cell nbdev would execute. The script prints
passed/total per notebook and version, the cells that fail and why, and how many
of them need treex, hypernetx or TensorFlow(.js), which hamax does not provide.
"""

import argparse
import ast
import contextlib
import importlib
import io
import json
import pkgutil
import re
import subprocess
import sys
import warnings


VERSIONS = {"0.1.1": "hamax.compat.v01", "0.2.2": "hamax.compat.v02"}
EXTERNAL = re.compile(r"\btx\.|\btreex\b|hnetx|hypernetx|tfjs|tensorflow|\btf\.")
ASSERTS = re.compile(r"\bassert\b|\btest_\w+\(")
DOC_ONLY = re.compile(r"show_doc\(|HTML\(|nbdev_export|default_exp")


def git(repo, *args):
    return subprocess.run(
        ["git", "-C", repo, *args], capture_output=True, text=True, check=True
    ).stdout


def release_commit(repo, version):
    # The commit whose settings.ini first says `version = <version>`.
    for line in git(repo, "log", "--format=%H", "--", "settings.ini").split():
        if re.search(
            rf"^version\s*=\s*{re.escape(version)}\s*$", _settings(repo, line), re.M
        ):
            commit = line
    return commit


def _settings(repo, commit):
    try:
        return git(repo, "show", f"{commit}:settings.ini")
    except subprocess.CalledProcessError:
        return ""


def notebooks(repo, commit):
    names = git(repo, "ls-tree", "--name-only", f"{commit}:nbs").split()
    for name in sorted(names):
        if name.endswith(".ipynb"):
            nb = json.loads(git(repo, "show", f"{commit}:nbs/{name}"))
            cells = [
                "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
            ]
        elif name.endswith(".qmd"):
            text = git(repo, "show", f"{commit}:nbs/{name}")
            cells = re.findall(r"```\{python\}\n(.*?)```", text, re.S)
        else:
            continue
        yield name, cells


def flags(cell):
    return {m.strip().lower() for m in re.findall(r"^#\s*\|\s*([\w\- :]+)", cell, re.M)}


def kind(cell, skip_flags):
    f = flags(cell)
    if any(x.startswith("export") for x in f):
        return "export"
    if "eval: false" in f or f & skip_flags:
        return "skipped"
    body = "\n".join(ln for ln in cell.splitlines() if not ln.strip().startswith("#"))
    if not body.strip() or DOC_ONLY.search(body):
        return "doc"
    try:
        tree = ast.parse(body)
    except SyntaxError:
        return "test"
    setup = all(
        isinstance(n, ast.Import | ast.ImportFrom)
        or (isinstance(n, ast.Expr) and "filterwarnings" in ast.unparse(n))
        or "os.environ" in ast.unparse(n)
        or "set_printoptions" in ast.unparse(n)
        or "simplefilter" in ast.unparse(n)
        for n in tree.body
    )
    return "setup" if setup else "test"


def rewrite(cell, target):
    cell = re.sub(
        r"^(\s*)import hamux as (\w+)", rf"\1import {target} as \2", cell, flags=re.M
    )
    cell = re.sub(
        r"^(\s*)from hamux(\.\w+)* import", rf"\1from {target} import", cell, flags=re.M
    )
    drop = ("from nbdev", "from fastcore", "from IPython", "import nbdev")
    return "\n".join(ln for ln in cell.splitlines() if not ln.strip().startswith(drop))


def _private_helpers(target):
    # Private names that hamax's compat modules define (e.g. `_tempered_sigmoid`).
    pkg = importlib.import_module(target)
    out = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"{target}.{info.name}")
        out.update({k: v for k, v in vars(mod).items() if k.startswith("_")})
    return out


def _fastcore():
    def test_eq(a, b):
        import numpy as np

        assert np.array_equal(np.asarray(a), np.asarray(b)), f"{a} != {b}"

    def test_close(a, b, eps=1e-5):
        import numpy as np

        assert np.allclose(np.asarray(a), np.asarray(b), atol=eps)

    def test_fail(f, msg="", contains="", args=None, kwargs=None):
        try:
            f(*(args or []), **(kwargs or {}))
        except Exception:
            return
        raise AssertionError(f"Expected exception but none raised. {msg}")

    def test_warns(f, show=False):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            f()
        assert w, "No warnings raised"

    return dict(
        test_eq=test_eq,
        test_close=test_close,
        test_fail=test_fail,
        test_warns=test_warns,
        test=lambda a, b, cmp: cmp(a, b),
    )


def namespace(target, export_cells):
    import functools as ft
    from pprint import pp

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import jax.tree_util as jtu
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    # The 2022 notebooks call plt.show(fig); today's show() takes no figure.
    plt.show = lambda *a, **k: None
    ns = dict(
        jax=jax,
        jnp=jnp,
        jr=jr,
        jtu=jtu,
        np=np,
        plt=plt,
        eqx=eqx,
        ft=ft,
        pp=pp,
        warnings=warnings,
        os=__import__("os"),
        show_doc=lambda *a, **k: None,
        HTML=lambda *a, **k: None,
        display=lambda *a, **k: None,
        __name__="__nb__",
    )
    ns.update(_fastcore())
    exec("from typing import *", ns)
    exec(f"from {target} import *", ns)
    ns["hmx"] = importlib.import_module(target)  # `import hamux as hmx` in exports
    helpers = _private_helpers(target)
    for cell in export_cells:
        for name in re.findall(r"^(?:def|class)\s+(_\w+)", cell, re.M):
            if name in helpers:
                ns[name] = helpers[name]
    return ns


def run_notebook(cells, target, skip_flags):
    kinds = [kind(c, skip_flags) for c in cells]
    ns = namespace(target, [c for c, k in zip(cells, kinds) if k == "export"])
    results = []
    for i, (cell, k) in enumerate(zip(cells, kinds)):
        if k in ("export", "skipped"):
            continue
        err = None
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(rewrite(cell, target), f"<cell {i}>", "exec"), ns)
        except BaseException as e:  # a cell may raise anything, SystemExit included
            err = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        if k == "test":
            results.append((i, err, bool(EXTERNAL.search(cell)), cell))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", help="a clone or bare git directory of bhoov/hamux")
    parser.add_argument("--verbose", action="store_true", help="print failing cells")
    args = parser.parse_args(argv)
    grand = [0, 0, 0, 0]
    for version, target in VERSIONS.items():
        commit = release_commit(args.repo, version)
        skip = (
            {
                f.strip()
                for f in re.findall(
                    r"tst_flags\s*=\s*(.*)", _settings(args.repo, commit)
                )[0].split("|")
            }
            if "tst_flags" in _settings(args.repo, commit)
            else set()
        )
        tot = [0, 0, 0, 0]  # passed, total, failing-external, total-external
        print(f"hamux {version} ({commit[:7]}) -> {target}")
        for name, cells in notebooks(args.repo, commit):
            res = run_notebook(cells, target, skip)
            passed = sum(e is None for _, e, _, _ in res)
            ext = sum(x for _, _, x, _ in res)
            checks = [e for _, e, _, c in res if ASSERTS.search(c)]
            print(
                f"  {name:24s} {passed}/{len(res)}  (needing treex/hypernetx/tf: "
                f"{ext}; cells that assert: {sum(e is None for e in checks)}/"
                f"{len(checks)} pass)"
            )
            for i, e, x, cell in res:
                if e is not None:
                    tag = "external" if x else "hamax"
                    print(f"    cell {i} [{tag}] {e[:150]}")
                    if args.verbose:
                        print("      | " + cell.replace("\n", "\n      | "))
            tot = [
                tot[0] + passed,
                tot[1] + len(res),
                tot[2] + sum(e is not None and x for _, e, x, _ in res),
                tot[3] + ext,
            ]
        target_total = tot[1] - tot[3]
        target_passed = tot[0] - (tot[3] - tot[2])
        print(
            f"  total {tot[0]}/{tot[1]}; without treex/hypernetx/tf: "
            f"{target_passed}/{target_total}"
        )
        grand = [
            g + t for g, t in zip(grand, [tot[0], tot[1], target_passed, target_total])
        ]
    print(
        f"all: {grand[0]}/{grand[1]}; without treex/hypernetx/tf: {grand[2]}/{grand[3]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
