"""Fuzz properties of hamax.load_run / load_model on hostile run directories,
and of hamax.from_spec on mutated specs. Every case loads the model intact or
raises a clear error (CheckpointError / SpecError / FileNotFoundError) naming
the file or the spec path; nothing on disk is changed by a load."""

import copy
import hashlib
import json
import os
import pathlib
import tempfile

import jax.numpy as jnp
import numpy as np
from hypothesis import given, strategies as st

import hamax
from hamax._io import _checkpoint

from .fuzz_common import Counter, check_clear, examples, small_ham


HAM = small_ham()
SPEC = hamax.to_spec(HAM)


def _run_dir() -> pathlib.Path:
    """A run directory as hamax.training.train writes it (model.eqx with its
    spec), made once and copied per case."""
    d = pathlib.Path(tempfile.mkdtemp()) / "run"
    d.mkdir()
    _checkpoint.save(d / "model.eqx", HAM, meta={"epoch": 1})
    return d


BASE = _run_dir()
DAMAGE = [
    "none",
    "truncate",
    "flip",
    "flip_header",
    "empty",
    "delete",
    "rename",
    "dir_in_place",
    "symlink_loop",
    "symlink_elsewhere",
    "huge_header",
    "huge_header_rehashed",
    "garbage",
    "header_only",
]


def _damage(run: pathlib.Path, how: str, at: int) -> None:
    f = run / "model.eqx"
    data = f.read_bytes()
    if how == "truncate":
        f.write_bytes(data[: at % len(data)])
    elif how == "flip":
        b = bytearray(data)
        b[at % len(b)] ^= 1 << (at % 8)
        f.write_bytes(bytes(b))
    elif how == "flip_header":
        b = bytearray(data)
        start = len(_checkpoint._MAGIC)
        b[start + at % (data.index(b"\n", start) - start)] ^= 0x20
        f.write_bytes(bytes(b))
    elif how == "empty":
        f.write_bytes(b"")
    elif how == "delete":
        f.unlink()
    elif how == "rename":
        f.rename(run / "model.eqx.old")
    elif how == "dir_in_place":
        f.unlink()
        (run / "model.eqx").mkdir()
    elif how == "symlink_loop":
        f.unlink()
        os.symlink(run / "model.eqx", run / "model.eqx")
    elif how == "symlink_elsewhere":
        f.unlink()
        os.symlink("/nonexistent/model.eqx", run / "model.eqx")
    elif how in ("huge_header", "huge_header_rehashed"):
        # A hostile edit; "rehashed" also recomputes the (unkeyed) checksum.
        magic = _checkpoint._MAGIC
        line, rest = data[len(magic) :].split(b"\n", 1)
        payload = rest.split(b"\n", 1)[1]
        h = json.loads(line)
        if isinstance(h.get("leaves"), list) and h["leaves"]:
            leaf = h["leaves"][at % len(h["leaves"])]
            choice = at % 4
            if choice == 0:
                leaf[0] = [2**40, 2**40]
            elif choice == 1:
                leaf[1] = "object"
            elif choice == 2:
                h["payload_bytes"] = 2**62
            else:
                h["architecture"] = {"x": [2**62]}
        else:
            h["meta"] = {"epoch": 2**62}
        line = json.dumps(h).encode() + b"\n"
        digest = b"0" * 64
        if how == "huge_header_rehashed":
            digest = hashlib.sha256(magic + line + payload).hexdigest().encode()
        f.write_bytes(magic + line + _checkpoint._DIGEST + digest + b"\n" + payload)
    elif how == "garbage":
        f.write_bytes(np.random.default_rng(at).bytes(at % 3000 + 1))
    elif how == "header_only":
        f.write_bytes(data[: data.index(b"\n", len(_checkpoint._MAGIC)) + 1])


def _snapshot(d: pathlib.Path) -> dict:
    return {
        p.name: (p.is_dir(), p.is_symlink(), p.lstat().st_size) for p in d.iterdir()
    }


@examples(130)
@given(
    how=st.sampled_from(DAMAGE),
    at=st.integers(0, 10**6),
    as_file=st.booleans(),
    loader=st.sampled_from(["load_run", "load_model"]),
)
def _load(counter, how, at, as_file, loader):
    counter.tick()
    run = pathlib.Path(tempfile.mkdtemp()) / "run"
    run.mkdir()
    (run / "model.eqx").write_bytes((BASE / "model.eqx").read_bytes())
    _damage(run, how, at)
    before = _snapshot(run)
    target = run / "model.eqx" if as_file else run
    try:
        got = getattr(hamax, loader)(target)
    except Exception as e:  # noqa: BLE001 - the property is about which errors
        check_clear(e, str(run))
        assert _snapshot(run) == before, "a failed load changed the run directory"
        return
    assert _snapshot(run) == before, "a load changed the run directory"
    ham = got[0] if loader == "load_run" else got
    # Loaded: then it is the model that was saved, bit for bit.
    for a, b in zip(_arrays(ham), _arrays(HAM)):
        np.testing.assert_array_equal(a, b)


def _arrays(tree):
    import equinox as eqx
    import jax

    return jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))


def test_fuzz_load_run():
    counter = Counter("load_run / load_model")
    _load(counter)
    counter.done(120)


def _paths(node, path=()):
    """Every (path, value) in a JSON tree."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


PATHS = [p for p, _ in _paths(SPEC)]
JUNK = [
    None,
    -1,
    0,
    2**62,
    1.5,
    float("nan"),
    "image",
    "hamax.lagrangians.Nope",
    "os.system",
    [],
    {},
    [[-3, 2]],
    {"__array__": {"shape": [2**40], "dtype": "float32"}},
    {"__module__": {"class": "builtins.eval", "fields": {}}},
    {"__function__": "os.system"},
    True,
]


@examples(160)
@given(i=st.integers(0, 10**6), junk=st.sampled_from(JUNK), drop=st.booleans())
def _spec(counter, i, junk, drop):
    counter.tick()
    spec = copy.deepcopy(SPEC)
    path = PATHS[i % len(PATHS)]
    if not path:
        spec = junk
    else:
        node = spec
        for k in path[:-1]:
            node = node[k]
        if drop and isinstance(node, dict):
            del node[path[-1]]
        elif drop and isinstance(node, list):
            node.pop(path[-1])
        else:
            node[path[-1]] = junk
    spec = json.loads(json.dumps(spec))  # what a checkpoint header holds
    try:
        ham = hamax.from_spec(spec)
    except Exception as e:  # noqa: BLE001
        check_clear(e, "spec", "root", "from_spec")
        return
    if path == ("root",):
        return  # a spec may describe any tree, e.g. a plain value
    # Accepted: a valid HAM that runs.
    assert isinstance(ham, hamax.HAM), (path, junk, drop)
    x = ham.init_states(dtype=jnp.float32)
    assert bool(jnp.isfinite(ham.energy(x)))


def test_fuzz_from_spec():
    counter = Counter("from_spec")
    _spec(counter)
    counter.done(150)
