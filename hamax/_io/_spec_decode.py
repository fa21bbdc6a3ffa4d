"""Rebuilding a model from its spec: validation first, then zero-filled arrays."""

import dataclasses
import enum
import functools as ft
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from ._spec_registry import (
    _CORE,
    _DTYPES,
    _KINDS,
    _MAX_DEPTH,
    _MAX_NDIM,
    _TAGS,
    _WIDE,
    fail,
    lookup,
)


def short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _canonical(obj: Any) -> None:
    """Run the constructor of the core classes on the rebuilt fields (the graph,
    shape and time-constant checks) and require it to change nothing."""
    if type(obj) is _CORE["HAM"]:
        inexact = [x for x in jtu.tree_leaves(obj) if eqx.is_inexact_array(x)]
        dtype = inexact[0].dtype if inexact else None
        new = type(obj)(obj.neurons, obj.synapses, obj.connections, dtype=dtype)
    elif isinstance(obj, _CORE["layers"]):
        new = type(obj)(obj.lagrangian, obj.shape, obj.tau, obj.bias)
    else:
        return
    treedefs: list[Any] = [jtu.tree_structure(new), jtu.tree_structure(obj)]
    pairs = zip(jtu.tree_leaves(new), jtu.tree_leaves(obj))
    same_leaves = all(
        eqx.is_array(b) if eqx.is_array(a) else not eqx.is_array(b) and a == b
        for a, b in pairs
    )
    if treedefs[0] != treedefs[1] or not same_leaves:
        raise ValueError(
            "its fields are not in canonical form (e.g. a shape must be a tuple of "
            "positive ints, connections a tuple of ((layer, ...), synapse) pairs)."
        )


class Decoder:
    """Walks a spec; with `build=False` it only validates (nothing is allocated),
    with `build=True` it rebuilds the tree with zero-filled arrays."""

    def __init__(self, build: bool, max_elements: int):
        self.build, self.max, self.size = build, max_elements, 0
        self.modules: list = []

    def __call__(self, node: Any, path: str, static: bool, depth: int) -> Any:
        if depth > _MAX_DEPTH:
            raise fail(path, f"is nested more than {_MAX_DEPTH} levels deep.")
        if node is None or isinstance(node, bool | int | float | str):
            return node
        if isinstance(node, list):
            if static:
                raise fail(path, "is a list in a static field; use a __tuple__.")
            return [
                self(v, f"{path}[{i}]", static, depth + 1) for i, v in enumerate(node)
            ]
        if not (
            isinstance(node, dict) and len(node) == 1 and next(iter(node)) in _TAGS
        ):
            raise fail(
                path,
                f"is {short(node)}; expected a JSON scalar, a list, or an object "
                f"with exactly one key among {', '.join(_TAGS)}.",
            )
        ((tag, body),) = node.items()
        return getattr(self, tag.strip("_"))(body, path, static, depth + 1)

    def array(self, body, path, static, depth):
        del depth
        keys = set(body) if isinstance(body, dict) else set()
        if not {"shape", "dtype"} <= keys <= {"shape", "dtype", "kind"}:
            raise fail(path, 'must be {"__array__": {"shape": [...], "dtype": ...}}.')
        if static:
            raise fail(path, "is an array in a static field, which is not stored.")
        shape, dtype, kind = body["shape"], body["dtype"], body.get("kind", "jax")
        ints = isinstance(shape, list) and all(type(s) is int for s in shape)
        if not (ints and len(shape) <= _MAX_NDIM and min(shape, default=0) >= 0):
            raise fail(
                f"{path}.shape",
                f"must be a list of at most {_MAX_NDIM} non-negative ints, got "
                f"{short(shape)}.",
            )
        if not (isinstance(dtype, str) and dtype in _DTYPES):
            raise fail(
                f"{path}.dtype",
                f"is {short(dtype)}; allowed: {', '.join(sorted(_DTYPES))}.",
            )
        if kind not in _KINDS or (kind == "numpy_scalar" and shape):
            raise fail(f"{path}.kind", f"is {short(kind)}; allowed: {_KINDS}.")
        if kind == "jax" and dtype in _WIDE and not jax.config.read("jax_enable_x64"):
            raise fail(
                path,
                f"has dtype {dtype}, which JAX only keeps with 64-bit mode on: call "
                'jax.config.update("jax_enable_x64", True) before from_spec.',
            )
        self.size += math.prod(shape)
        if self.size > self.max or max(shape, default=0) > self.max:
            raise fail(
                path,
                f"(shape {shape}) brings the model to {self.size} array elements, "
                f"more than max_elements={self.max}. If the model is really this "
                "large, pass a larger max_elements to from_spec.",
            )
        if not self.build:
            return None
        dt = jnp.dtype(dtype)
        if kind == "numpy_scalar":
            return dt.type(0)
        return np.zeros(shape, dt) if kind == "numpy" else jnp.zeros(shape, dt)

    def tuple(self, body, path, static, depth):
        if not isinstance(body, list):
            raise fail(path, f"must be {{'__tuple__': [...]}}, got {short(body)}.")
        return tuple(self(v, f"{path}[{i}]", static, depth) for i, v in enumerate(body))

    def dict(self, body, path, static, depth):
        pairs = isinstance(body, list) and all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in body
        )
        if not pairs:
            raise fail(path, "must be {'__dict__': [[key, value], ...]}.")
        keys = [k for k, _ in body]
        if static or len(set(keys)) != len(keys):
            raise fail(path, "repeats a key, or is a dict in a static field.")
        return {k: self(v, f"{path}[{k!r}]", static, depth) for k, v in body}

    def float(self, body, path, static, depth):
        del static, depth
        if body not in ("nan", "inf", "-inf"):
            raise fail(path, f"must be 'nan', 'inf' or '-inf', got {short(body)}.")
        return float(body)

    def function(self, body, path, static, depth):
        del static, depth
        return lookup(body, path)

    def enum(self, body, path, static, depth):
        del static, depth
        ok = isinstance(body, list) and len(body) == 2
        cls = lookup(body[0] if ok else None, path, enum.Enum)
        if not (isinstance(body[1], str) and body[1] in cls.__members__):
            raise fail(path, f"names no member of {cls.__name__}: {short(body[1])}.")
        return cls[body[1]]

    def partial(self, body, path, static, depth):
        if not (isinstance(body, dict) and set(body) == {"func", "args", "keywords"}):
            raise fail(path, "must have exactly the keys func, args, keywords.")
        func = lookup(body["func"], f"{path}.func")
        args = self(body["args"], f"{path}.args", False, depth)
        kws = self(body["keywords"], f"{path}.keywords", False, depth)
        kw_dict = isinstance(body["keywords"], dict) and "__dict__" in body["keywords"]
        if not (isinstance(body["args"], list) and kw_dict):
            raise fail(path, "must hold a list of args and a __dict__ of keywords.")
        return ft.partial(func, *args, **kws) if self.build else None

    def module(self, body, path, static, depth):
        if not (isinstance(body, dict) and set(body) == {"class", "fields"}):
            raise fail(path, 'must be {"__module__": {"class": ..., "fields": {...}}}.')
        cls = lookup(body["class"], f"{path}.class", eqx.Module)
        fields, known = body["fields"], {f.name: f for f in dataclasses.fields(cls)}
        if not isinstance(fields, dict):
            raise fail(f"{path}.fields", f"must be an object, got {short(fields)}.")
        for k in fields:
            if k not in known:
                raise fail(
                    f"{path}.fields",
                    f"has {k!r}, which is not a field of {cls.__name__} (fields: "
                    f"{', '.join(known) or 'none'}).",
                )
        values = {}
        for k, f in known.items():
            is_static = static or f.metadata.get("static", False)
            if k in fields:
                values[k] = self(fields[k], f"{path}.{k}", is_static, depth)
            elif f.default is not dataclasses.MISSING:  # a field added since
                values[k] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                values[k] = f.default_factory() if self.build else None
            else:
                raise fail(path, f"lacks the field {k!r} of {cls.__name__}.")
        if not self.build:
            return None
        # What equinox's own unflatten does: no __init__ (which would infer shapes
        # from keys). The invariants are checked once the whole tree is built.
        obj = object.__new__(cls)
        for k, v in values.items():
            object.__setattr__(obj, k, v)
        self.modules.append((path, obj))
        return obj


def check_modules(modules: list) -> None:
    """`__check_init__` of every class in each module's MRO (as equinox runs it),
    then the core constructors' checks; innermost modules first."""
    for path, obj in modules:
        try:
            for c in type(obj).__mro__:
                if "__check_init__" in c.__dict__:
                    c.__dict__["__check_init__"](obj)
            _canonical(obj)
        except Exception as e:
            raise fail(
                path, f"is not a valid {type(obj).__name__}: {type(e).__name__}: {e}"
            ) from None
