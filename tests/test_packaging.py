"""hamax as a user installs it: the wheel, a clean install, lazy subpackages, and
the project files (version, licence, changelog, citation, docs)."""

import email
import pathlib
import re
import subprocess
import sys
import sysconfig
import zipfile

import pytest
import yaml

import hamax


ROOT = pathlib.Path(__file__).resolve().parent.parent
EXTRAS = ("diffrax", "optimistix", "matplotlib")


def _run(cmd, **kwargs):
    out = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, **kwargs
    )
    assert out.returncode == 0, f"{cmd} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout + out.stderr


def _subpackages():
    return sorted(
        p.parent.name
        for p in (ROOT / "hamax").glob("*/__init__.py")
        if not p.parent.name.startswith("_")
    )


def _build_wheel(tmp_path):
    # Build from a copy of the files a source distribution holds, so the build
    # leaves nothing in the working tree. No network: the build backend
    # (setuptools, from the `test` extra) is taken from this environment.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (src / name).write_bytes((ROOT / name).read_bytes())
    for path in (ROOT / "hamax").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            dest = src / path.relative_to(ROOT)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
    dist = tmp_path / "dist"
    log = _run(
        [sys.executable, "-m", "pip", "wheel", "--isolated", "--no-deps"]
        + ["--no-build-isolation", "--no-index", "-v", "-w", dist, src]
    )
    (wheel,) = dist.glob("hamax-*.whl")
    return wheel, log


def _venv_sharing_dependencies(path):
    # A fresh virtual environment that sees this environment's installed
    # packages (symlinked, so pip needs no network) but not its editable hamax.
    _run([sys.executable, "-m", "venv", "--without-pip", path])
    python = path / "bin" / "python"
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = pathlib.Path(_run([python, "-c", code]).strip())
    for entry in pathlib.Path(sysconfig.get_path("purelib")).iterdir():
        if "hamax" not in entry.name.lower() and not (site / entry.name).exists():
            (site / entry.name).symlink_to(entry)
    return python


@pytest.mark.slow
def test_wheel_installs_with_all_extras(tmp_path):
    wheel, log = _build_wheel(tmp_path)
    assert wheel.name == f"hamax-{hamax.__version__}-py3-none-any.whl"
    assert "SetuptoolsDeprecationWarning" not in log, log

    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"hamax-{hamax.__version__}.dist-info"
        meta = email.message_from_bytes(zf.read(f"{info}/METADATA"))
    assert "hamax/py.typed" in names
    assert f"{info}/licenses/LICENSE" in names
    for pkg in _subpackages():
        assert f"hamax/{pkg}/__init__.py" in names, f"hamax.{pkg} is not in the wheel"
    assert meta["Version"] == hamax.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert {"all", "docs", "ode", "implicit", "plot"} <= set(
        meta.get_all("Provides-Extra") or []
    )
    requires = meta.get_all("Requires-Dist") or []
    assert any(r.startswith("hamax[") and 'extra == "all"' in r for r in requires)

    python = _venv_sharing_dependencies(tmp_path / "venv")
    _run(
        [python, "-m", "pip", "install", "--isolated", "--no-index"]
        + ["--no-cache-dir", "--find-links", wheel.parent, "hamax[all]"]
    )
    code = (
        "import hamax; print(hamax.__file__); print(hamax.__version__); "
        "print(hamax.ode.__name__, hamax.plot.__name__, hamax.compat.__name__)"
    )
    file, version, modules = _run([python, "-c", code], cwd=tmp_path).splitlines()
    assert file.startswith(str(tmp_path / "venv")), file
    assert version == hamax.__version__
    assert modules == "hamax.ode hamax.plot hamax.compat"
    assert (tmp_path / "venv" / "bin" / "hamax").exists()


def test_one_version_source():
    text = (ROOT / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert 'dynamic = ["version"]' in project
    assert not re.search(r"^version\s*=", project, re.M)
    assert 'version = { attr = "hamax.__version__" }' in text
    assert "version" not in yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert re.fullmatch(r"\d+\.\d+\.\d+", hamax.__version__)


def test_license_changelog_citation():
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()

    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(
        rf"^## \[{re.escape(hamax.__version__)}\] - \d{{4}}-\d\d-\d\d$", changelog, re.M
    )

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software" and cff["license"] == "Apache-2.0"
    paper = cff["preferred-citation"]
    assert (
        paper["title"] == "A Universal Abstraction for Hierarchical Hopfield Networks"
    )
    assert [a["family-names"] for a in paper["authors"]] == [
        "Hoover",
        "Chau",
        "Strobelt",
        "Krotov",
    ]
    assert paper["year"] == 2022


def test_subpackages_are_lazy_attributes():
    # In a fresh interpreter: `import hamax` pulls in no extra, every public
    # subpackage is an attribute, and the ones built on extras load on access.
    subs = _subpackages()
    assert {"training", "plot", "ode", "compat", "data", "zoo"} <= set(subs)
    code = f"""
import sys, hamax
assert not [m for m in {EXTRAS!r} if m in sys.modules], sys.modules.keys()
assert not [m for m in ("hamax.plot", "hamax.ode", "hamax.compat") if m in sys.modules]
assert set({subs!r}) <= set(dir(hamax)), dir(hamax)
for name in {subs!r}:
    assert getattr(hamax, name) is sys.modules["hamax." + name], name
print("ok")
"""
    assert _run([sys.executable, "-c", code]).strip() == "ok"


def test_unknown_attribute_error():
    with pytest.raises(
        AttributeError,
        match=r"module 'hamax' has no attribute 'traning'\. Its public names are "
        r"listed by dir\(hamax\); its subpackages are compat, data, .*training",
    ):
        hamax.traning  # noqa: B018
    with pytest.raises(ImportError, match="cannot import name 'traning' from 'hamax'"):
        from hamax import traning  # noqa: F401
    with pytest.raises(AttributeError, match="has no attribute '_lazy_private'"):
        hamax._lazy_private  # noqa: B018


def test_docs_nav_and_concepts_example():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["strict"] is True
    assert {"Concepts": "concepts.md"} in config["nav"]
    # The example at the end of the Concepts page runs as written.
    page = (ROOT / "docs" / "concepts.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/concepts.md", "exec"), {})


def test_api_pages_name_existing_objects():
    # The strict docs build (`make docs`) fails on a `:::` line whose object does
    # not exist; this finds the same mistake in seconds, with the page named.
    import importlib

    for page in sorted((ROOT / "docs").rglob("*.md")):
        for name in re.findall(r"^::: ([\w.]+)", page.read_text(), re.M):
            parts = name.split(".")
            for i in range(len(parts), 0, -1):
                try:
                    obj = importlib.import_module(".".join(parts[:i]))
                except ModuleNotFoundError:
                    continue
                for attr in parts[i:]:
                    assert hasattr(obj, attr), (
                        f"{page.relative_to(ROOT)} documents `{name}`, which does "
                        f"not exist: re-export it or remove the `:::` line."
                    )
                    obj = getattr(obj, attr)
                break
