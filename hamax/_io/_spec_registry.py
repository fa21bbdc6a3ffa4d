"""The names a model spec may use: hamax's own classes and registered ones."""

import enum
import functools as ft
import inspect
from typing import Any

import equinox as eqx

from .._ham import HAM
from .._neurons import NeuronLayer


SPEC_FORMAT, SPEC_VERSION, _MAX_DEPTH, _MAX_NDIM = "hamax-spec", 1, 64, 32
_DTYPES = frozenset(
    "bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 bfloat16 float16 "
    "float32 float64 complex64 complex128".split()
)
_WIDE = frozenset({"int64", "uint64", "float64", "complex128"})
_KINDS = ("jax", "numpy", "numpy_scalar")
_TAGS = (
    *("__array__", "__tuple__", "__dict__", "__float__", "__function__"),
    *("__partial__", "__enum__", "__module__"),
)
_REGISTRY: dict[str, Any] = {}  # name -> class or function
_NAMES: dict[Any, str] = {}  # class or function -> name
_BUILTIN: dict[str, Any] = {}  # hamax's own names, which users cannot replace
_CORE: dict[str, Any] = {}


class SpecError(ValueError):
    """A model spec (see [`hamax.from_spec`][]) is malformed, names a class that is
    not registered, or describes a model that cannot be encoded or rebuilt."""


def _add(name: str, obj: Any) -> None:
    _REGISTRY[name] = obj
    _NAMES.setdefault(obj, name)


def _walk(module: Any, seen: set[str]) -> None:
    # Breadth-first, so an object's first (canonical) name is its shortest public
    # path; every public path to it resolves.
    subs = []
    for k, v in list(vars(module).items()):
        if k.startswith("_"):
            continue
        if inspect.ismodule(v):
            if v.__name__ == f"{module.__name__}.{k}" and v.__name__ not in seen:
                seen.add(v.__name__)
                subs.append(v)
            continue
        concrete = isinstance(v, type) and not inspect.isabstract(v)
        if concrete and issubclass(v, eqx.Module | enum.Enum):
            if not k.startswith("Abstract"):
                _add(f"{module.__name__}.{k}", v)
        elif inspect.isfunction(v) and k.startswith("lagr_"):
            # Of functions, only the Lagrangians: a HAM's validation calls its
            # synapses, so no spec may name a function with side effects.
            _add(f"{module.__name__}.{k}", v)
    for v in subs:
        _walk(v, seen)


def _registry() -> dict[str, Any]:
    # Built on first use, not at import: hamax/__init__ may import this module
    # before the packages whose classes it lists. Only hamax's own public
    # packages are walked (compat too: its classes are plain equinox modules).
    if not _BUILTIN:
        # Local imports, on the short list of tests/test_public_api.py: the walk
        # needs the fully initialised `hamax` package (this module is imported
        # while hamax/__init__ runs), and `compat` is registered lazily so that
        # `import hamax` does not import it.
        import hamax

        from .. import compat

        _walk(hamax, {"hamax"})
        _BUILTIN.update(_REGISTRY)
        layers = (NeuronLayer, getattr(compat, "NeuronLayer", NeuronLayer))
        _CORE.update(HAM=HAM, layers=layers)
    return _REGISTRY


def register_module(obj: Any = None, *, name: str | None = None) -> Any:
    """Allow [`hamax.to_spec`][] and [`hamax.from_spec`][] to save and rebuild a
    user-defined class (a synapse, a Lagrangian, any `eqx.Module`), an `enum.Enum`
    or a function used as a field (e.g. a synapse written as a plain function).

    `from_spec` finds classes only in this registry (by name), so a spec can never
    import or run code that was not registered. hamax's own classes are registered
    already. Usable as a decorator, with or without `name`.

    **Arguments:**

    - `obj`: the class or function.
    - `name`: the name stored in specs; default `"module.QualifiedName"`. Saving
      and loading must register the object under the same name.

    **Returns:** `obj`, unchanged.

    !!! example

        ```python
        @hamax.register_module
        class ScaledDense(hamax.synapses.AbstractSynapse):
            W: jax.Array
            scale: float = eqx.field(static=True, default=1.0)

            def __call__(self, g1, g2):
                return -self.scale * g1 @ self.W @ g2
        ```
    """
    if obj is None:
        return ft.partial(register_module, name=name)
    ok = isinstance(obj, type) and issubclass(obj, eqx.Module | enum.Enum)
    if not (ok or (callable(obj) and not isinstance(obj, type | eqx.Module))):
        raise ValueError(
            "register_module expected an equinox Module class, an enum.Enum class or "
            f"a function, got {obj!r}. Register the class, not an instance."
        )
    if name is None:
        qualname = getattr(obj, "__qualname__", None)
        if qualname is None:
            raise ValueError(
                f"register_module cannot name {obj!r}; pass name='my_package.thing'."
            )
        name = f"{getattr(obj, '__module__', '')}.{qualname}"
    builtin = _registry().get(name)
    if name in _BUILTIN and builtin is not obj:
        raise ValueError(
            f"register_module: the name {name!r} belongs to hamax's own {builtin!r}; "
            "choose another `name`."
        )
    # A user name is rebound, so a class redefined in a notebook can be registered
    # again under its old name.
    _REGISTRY[name] = obj
    _NAMES[obj] = _NAMES.get(obj, name) if obj in _BUILTIN.values() else name
    return obj


def fail(path: str, msg: str) -> SpecError:
    return SpecError(f"from_spec: `{path}` {msg}")


def lookup(name: Any, path: str, want: type | None = None) -> Any:
    if not isinstance(name, str) or name not in _REGISTRY:
        raise fail(
            path,
            f"names {name!r}, which is not a registered class or function. If it "
            "is your own, call hamax.register_module(cls) before loading.",
        )
    obj = _REGISTRY[name]
    if want is not None and not (isinstance(obj, type) and issubclass(obj, want)):
        raise fail(path, f"names {name!r}, which is not a {want.__name__} class.")
    if want is not None and inspect.isabstract(obj):
        raise fail(path, f"names {name!r}, an abstract class.")
    return obj
