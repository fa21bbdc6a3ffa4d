import abc
import functools as ft
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._learnable import Learnable, resolve


class AbstractLagrangian(eqx.Module):
    r"""A convex scalar function $L(x)$ of a neuron layer's state.

    The activation of the layer is $g = \nabla L(x)$ and the layer's energy is the
    Legendre transform $E = \langle x, g\rangle - L(x)$. Convexity of $L$ is what
    makes the energy of a HAM bounded below and its dynamics a descent.

    Subclasses implement `__call__` only; `activation` is always `jax.grad` of it.
    Every hyperparameter has a default, so `cls()` builds a usable instance.
    A hyperparameter given as [`hamax.learnable`][]`(value)` is trained and kept
    at or above its bound: every subclass's `__call__` sees the bounded values
    (see [`resolved`][hamax.lagrangians.AbstractLagrangian.resolved]), so a
    Lagrangian written for fixed floats is learnable without a change. (A plain
    JAX array is a leaf too, but has no bound.)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is not None and not getattr(call, "_hamax_resolves", False):

            @ft.wraps(call)
            def __call__(self, x):
                return call(self.resolved(), x)

            __call__._hamax_resolves = True  # type: ignore[attr-defined]
            cls.__call__ = __call__  # type: ignore[method-assign]

    def resolved(self):
        """This Lagrangian with each [`hamax.Learnable`][] hyperparameter replaced
        by its bounded value: what `__call__` computes with. Use it to read a
        hyperparameter as a number (`lag.resolved().beta`)."""
        return resolve(self)

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        """The value $L(x)$ (a scalar) for a state `x` of any shape."""

    def activation(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""The activation $g = \partial L/\partial x$ (same shape and dtype as `x`)."""
        return jax.grad(self)(x)


def _concrete(value: Any) -> np.ndarray | None:
    """`value` as a NumPy array when it is a concrete number or array, else None.

    Traced values (a learnable parameter under `jit` or `grad`) cannot be checked
    and are trusted."""
    if isinstance(value, jax.core.Tracer) or isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.number | np.ndarray | jax.Array):
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):  # e.g. a PRNG key array
            return None
    return None


def check_hyperparameter(
    owner: str, name: str, value: Any, *, low: float, strict: bool, why: str
) -> None:
    """Raise `ValueError` unless every element of a concrete `value` is finite
    and above `low` (or at least `low` when not `strict`). For a
    [`hamax.Learnable`][], its bound must satisfy the same condition (so no
    optimiser step can leave the range) and its bounded value is checked."""
    if isinstance(value, Learnable):
        lower = value.lower
        if lower is None or not (lower > low if strict else lower >= low):
            op = ">" if strict else ">="
            raise ValueError(
                f"{owner} expected a learnable `{name}` with a lower bound {op} "
                f"{low:g} ({why}), got lower={lower!r}; use "
                f"hamax.learnable(value, lower=...) with such a bound."
            )
        value = value.value
    a = _concrete(value)
    if a is None:
        return
    ok = np.isfinite(a) & ((a > low) if strict else (a >= low))
    if not ok.all():
        bad = a.flat[int(np.argmin(ok.ravel()))]
        op = ">" if strict else ">="
        raise ValueError(
            f"{owner} expected `{name}` to be finite and {op} {low:g} ({why}), got "
            f"{name}={value!r:.60}" + ("" if a.ndim == 0 else f" (holding {bad})") + "."
        )


# beta is an inverse temperature: the Lagrangians divide by it, so beta = 0 gives
# NaN energies and beta < 0 makes them concave.
_BETA_WHY = "the Lagrangian divides by it and must stay convex; use e.g. beta=1.0"


def check_beta(owner: str, beta: Any) -> None:
    """Raise `ValueError` unless a concrete inverse temperature `beta` is finite
    and > 0 (the check every tempered Lagrangian shares)."""
    check_hyperparameter(owner, "beta", beta, low=0.0, strict=True, why=_BETA_WHY)
