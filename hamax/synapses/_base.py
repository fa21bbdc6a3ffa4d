import abc
import inspect
from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar


class AbstractSynapse(eqx.Module):
    r"""A hypersynapse: a scalar energy of the activations of the layers it connects.

    Lower energy means the activations are more aligned. A synapse is written with
    its hyperparameters only (`DenseSynapse()`, `ConvSynapse((3, 3))`); its
    parameter shapes are inferred from the connected layers when the
    [`hamax.HAM`][] is built with a `key`, which calls `init`.

    Subclasses implement `__call__` (on unbatched activations, one per connected
    layer, in connection order), and usually `init` and `is_initialized`.
    They may override `partial` to precompute work that depends only on layers
    held fixed during descent (the loop-invariant drive).
    """

    #: Number of layers the synapse connects; None means any number >= 1.
    arity: ClassVar[int | None] = None

    @abc.abstractmethod
    def __call__(self, *gs: Float[Array, "..."]) -> Scalar:
        """The energy (a scalar) of the activations `gs` of the connected layers."""

    @property
    def is_initialized(self) -> bool:
        """Whether the parameters exist (shapes have been inferred)."""
        return True

    def init(
        self, shapes: tuple[tuple[int, ...], ...], *, dtype=None, key: PRNGKeyArray
    ) -> "AbstractSynapse":
        """Return a copy with parameters created for layers of these `shapes`."""
        del shapes, dtype, key
        return self

    def partial(self, fixed: dict[int, Float[Array, "..."]]) -> Callable[..., Scalar]:
        """The energy as a function of the arguments not in `fixed` (by position).

        Called once per clamped system, outside any loop; overrides hoist the part
        of the energy that depends only on the fixed (clamped) activations. Return
        a [`hamax.synapses.PartialEnergy`][] (a pytree, so that the hoisted arrays
        can be differentiated and passed through `jax.jit`).
        """
        return PartialEnergy(_fill_fixed, (self, dict(fixed)))


class PartialEnergy(eqx.Module):
    """A synapse's energy with some inputs fixed: `fn(data, *free)`.

    `data` is a pytree (the hoisted drive, the synapse, ...) and `fn` a
    module-level function, so the object is a pytree that `jax.jit`, `jax.grad`
    and [`hamax.Implicit`][] see through.
    """

    fn: Callable = eqx.field(static=True)
    data: Any

    def __call__(self, *free):
        return self.fn(self.data, *free)


def _fill_fixed(data, *free):
    synapse, fixed = data
    args, it = [], iter(free)
    for i in range(len(fixed) + len(free)):
        args.append(fixed[i] if i in fixed else next(it))
    return synapse(*args)


def synapse_arity(synapse) -> int | None:
    """The number of activations `synapse` takes, or None if it takes any number."""
    if isinstance(synapse, AbstractSynapse):
        return synapse.arity
    try:
        sig = inspect.signature(synapse)
    except (TypeError, ValueError):
        return None
    count = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and (
            p.default is p.empty
        ):
            count += 1
    return count


def require_param(param, owner: str):
    """Return `param`, or raise the 'build the HAM with a key' error if it is None."""
    if param is None:
        raise ValueError(
            f"{owner} has no parameters yet: its shapes are inferred from the "
            "layers it connects. Build the HAM with a key, e.g. "
            "HAM(neurons, synapses, connections, key=jax.random.key(0))."
        )
    return param
