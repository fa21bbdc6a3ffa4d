"""v0.1's treex-style pieces: `Layer`, `SimpleDenseSynapse`, `DenseSynapse`
with `init(key, inputs)`."""

import jax.numpy as jnp

from ...synapses import DenseSynapse as _Dense, NaryDenseSynapse
from ...synapses._base import AbstractSynapse
from .._layers import SeedLayer, WrappedSynapse


def Layer(
    lagrangian, shape, tau: float = 1.0, use_bias: bool = False, name=None
) -> SeedLayer:
    """v0.1 `Layer(lagrangian, shape, tau, use_bias)`: a neuron layer from a
    Lagrangian instance (e.g. `Layer(LExp(beta=5.), (32, 32, 3))`). `name` is
    accepted and ignored (the list API names layers by position)."""
    del name
    bias = jnp.zeros(shape if not isinstance(shape, int) else (shape,))
    return SeedLayer(lagrangian, shape, tau=tau, bias=bias if use_bias else None)


class _TreexSynapse(WrappedSynapse):
    # A core synapse that also takes treex's `init(key, inputs)`, where `inputs`
    # are example activations (or their shapes); the HAM's `init(shapes, key=)`
    # keeps working, and the loop-invariant drive (`partial`) is the core's.
    inner: AbstractSynapse

    @property
    def W(self):
        """The coupling tensor (one axis per connected layer)."""
        return self.inner.W  # type: ignore[attr-defined]

    def init(self, *args, dtype=None, key=None):
        """`init(key, inputs)` (treex) or `init(shapes, *, key)` (hamax)."""
        if key is None:
            key, inputs = args
            shapes = tuple(tuple(jnp.shape(g)) for g in inputs)
        else:
            (shapes,) = args
        return type(self)(self.inner.init(shapes, dtype=dtype, key=key))


class SimpleDenseSynapse(_TreexSynapse):
    """v0.1 `SimpleDenseSynapse()`: $E = -g_1^\\top W g_2$ with `W` drawn with
    standard deviation 0.02 (the core [`hamax.synapses.DenseSynapse`][])."""

    arity = 2

    def __init__(self, inner: AbstractSynapse | None = None):
        self.inner = _Dense(init_std=0.02) if inner is None else inner


class DenseSynapse(_TreexSynapse):
    """v0.1 `DenseSynapse(stdinit=0.02)`: $E = -\\sum W g_1 \\cdots g_n$ over
    any number of flattened layers (the core
    [`hamax.synapses.NaryDenseSynapse`][])."""

    def __init__(self, stdinit: float | AbstractSynapse = 0.02):
        # A synapse as the argument is the copy made by `init`.
        self.inner = (
            stdinit
            if isinstance(stdinit, AbstractSynapse)
            else NaryDenseSynapse(init_std=stdinit)
        )
