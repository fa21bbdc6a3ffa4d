"""A model's architecture as JSON data (`to_spec`), rebuilt without pickle or
imports (`from_spec`)."""

import dataclasses
import enum
import functools as ft
import math
from typing import Any

import equinox as eqx
import jax
import numpy as np

from .._ham import HAM
from ._spec_decode import Decoder, check_modules, short
from ._spec_registry import (
    _DTYPES,
    _NAMES,
    SPEC_FORMAT,
    SPEC_VERSION,
    SpecError as SpecError,
    _registry,
    fail,
    register_module as register_module,
)


def _name_of(x: Any, path: str) -> str:
    try:
        return _NAMES[x]
    except (KeyError, TypeError):
        what = getattr(x, "__qualname__", repr(x))
        raise SpecError(
            f"to_spec: `{path}` is {what}, which is not registered. Call "
            f"hamax.register_module({getattr(x, '__name__', 'obj')}) (or decorate "
            "its definition with @hamax.register_module) before saving and loading."
        ) from None


def _encode(x: Any, path: str, static: bool) -> Any:
    if x is None or isinstance(x, bool | int | str):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else {"__float__": repr(x)}
    if isinstance(x, jax.Array | np.ndarray | np.generic | jax.ShapeDtypeStruct):
        if static:
            raise SpecError(
                f"to_spec: `{path}` is an array inside a static field, whose values "
                "a checkpoint does not store. Make the field non-static."
            )
        if str(x.dtype) not in _DTYPES:
            raise SpecError(
                f"to_spec: `{path}` has dtype {x.dtype}; supported dtypes are "
                f"{', '.join(sorted(_DTYPES))}."
            )
        kind = "numpy" if isinstance(x, np.ndarray) else "jax"
        info = {"shape": list(x.shape), "dtype": str(x.dtype)}
        if isinstance(x, np.generic):
            kind = "numpy_scalar"
        return {"__array__": info if kind == "jax" else {**info, "kind": kind}}
    if type(x) in (tuple, list):
        items = [_encode(v, f"{path}[{i}]", static) for i, v in enumerate(x)]
        return {"__tuple__": items} if isinstance(x, tuple) else items
    if type(x) is dict:
        for k in x:
            if not isinstance(k, str):
                raise SpecError(f"to_spec: `{path}` has a key {k!r}; keys must be str.")
        return {
            "__dict__": [
                [k, _encode(v, f"{path}[{k!r}]", static)] for k, v in x.items()
            ]
        }
    if type(x) is ft.partial:
        args = _encode(list(x.args), f"{path}.args", static)
        kws = _encode(dict(x.keywords), f"{path}.keywords", static)
        func = _name_of(x.func, f"{path}.func")
        return {"__partial__": {"func": func, "args": args, "keywords": kws}}
    if isinstance(x, enum.Enum):
        return {"__enum__": [_name_of(type(x), path), x.name]}
    if isinstance(x, eqx.Module) and dataclasses.is_dataclass(x):
        name = _name_of(type(x), path)
        fields = {
            f.name: _encode(
                getattr(x, f.name),
                f"{path}.{f.name}",
                static or f.metadata.get("static", False),
            )
            for f in dataclasses.fields(x)
        }
        return {"__module__": {"class": name, "fields": fields}}
    if callable(x):
        return {"__function__": _name_of(x, path)}
    raise SpecError(
        f"to_spec cannot encode `{path}`, a {type(x).__name__}: specs hold None, "
        "bool, int, float, str, tuples, lists, dicts, arrays and registered "
        "modules and functions."
    )


def to_spec(tree: Any) -> dict[str, Any]:
    """A JSON-serialisable description of a [`hamax.HAM`][] (or of any tree of
    registered equinox modules): every class by registered name, every field,
    and each array as a placeholder `{"__array__": {"shape": [...], "dtype": ...}}`.

    The array values are what a checkpoint stores
    (`eqx.tree_serialise_leaves`); [`hamax.from_spec`][] rebuilds the structure
    they load into. The spec is plain data: `json.dumps` writes it as is.

    **Arguments:**

    - `tree`: the model, e.g. a `HAM`.

    **Returns:** `{"format": "hamax-spec", "version": ..., "root": ...}`.

    **Raises:** `SpecError` naming the path of a value it cannot encode (an
    unregistered class or function: see [`hamax.register_module`][]).
    """
    _registry()
    return {
        "format": SPEC_FORMAT,
        "version": SPEC_VERSION,
        "root": _encode(tree, "root", False),
    }


def from_spec(spec: Any, *, max_elements: int = 2**31) -> Any:
    """Rebuild the model described by a [`hamax.to_spec`][] spec, with zero-filled
    arrays of the recorded shapes and dtypes, ready for
    `eqx.tree_deserialise_leaves` (e.g. `hamax.load(path, from_spec(spec))`).

    Nothing in the spec is imported or executed: classes and functions are found
    by name among hamax's own and those given to [`hamax.register_module`][].
    The whole spec is validated before any array is allocated; a rebuilt
    `HAM` is then checked like a newly built one (graph, shapes).

    **Arguments:**

    - `spec`: the dict from `to_spec` (or `json.loads` of it).
    - `max_elements`: refuse specs whose arrays hold more elements in all.

    **Returns:** the model (a `HAM` for a spec of one).

    **Raises:** `SpecError` (a `ValueError`) naming the path of the first bad
    entry, for a malformed spec, an unregistered name or an oversized model.
    """
    _registry()
    if not isinstance(spec, dict) or "root" not in spec:
        raise SpecError(
            "from_spec expected a spec, the dict made by hamax.to_spec (or json.loads "
            f"of it) with keys format, version and root, got {short(spec)}."
        )
    if spec.get("format") != SPEC_FORMAT or type(spec.get("version")) is not int:
        raise fail("spec", f"is not a {SPEC_FORMAT!r} spec: {short(spec)}.")
    if spec["version"] != SPEC_VERSION:
        raise fail(
            "spec['version']",
            f"is {spec['version']}; this hamax reads version {SPEC_VERSION}.",
        )
    Decoder(False, max_elements)(spec["root"], "root", False, 0)
    build = Decoder(True, max_elements)
    root = build(spec["root"], "root", False, 0)
    # The checks see abstract arrays: the zeros stand for values not loaded yet,
    # so only what the spec itself fixes (shapes, dtypes, Python numbers, the
    # graph) is checked.
    paths = [p for p, _ in build.modules]
    modules = [m for _, m in build.modules]
    eqx.filter_eval_shape(lambda ms: check_modules(list(zip(paths, ms))), modules)
    if isinstance(root, HAM):
        # Fields no constructor checks (e.g. a Lagrangian's axis) fail here, on
        # abstract arrays, rather than at the first use of the loaded model.
        arrays = [x for x in jax.tree_util.tree_leaves(root) if eqx.is_inexact_array(x)]
        dtype = arrays[0].dtype if arrays else None
        try:
            eqx.filter_eval_shape(
                lambda h: h.energy_grad(h.init_states(dtype=dtype)), root
            )
        except Exception as e:  # noqa: BLE001 - any failure means a bad spec
            raise fail(
                "root",
                "describes a HAM whose energy cannot be evaluated "
                f"({type(e).__name__}: {short(str(e))}); the spec was edited or "
                "written by an incompatible version.",
            ) from None
    return root
