import abc

import equinox as eqx
import jax
from jaxtyping import Array, Float

from .._custom_types import Scalar


class AbstractLagrangian(eqx.Module):
    r"""A convex scalar function $L(x)$ of a neuron layer's state.

    The activation of the layer is $g = \nabla L(x)$ and the layer's energy is the
    Legendre transform $E = \langle x, g\rangle - L(x)$. Convexity of $L$ is what
    makes the energy of a HAM bounded below and its dynamics a descent.

    Subclasses implement `__call__` only; `activation` is always `jax.grad` of it.
    Every hyperparameter has a default, so `cls()` builds a usable instance.
    Hyperparameters given as JAX arrays are learnable (they are pytree leaves).
    """

    @abc.abstractmethod
    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        """The value $L(x)$ (a scalar) for a state `x` of any shape."""

    def activation(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r"""The activation $g = \partial L/\partial x$ (same shape and dtype as `x`)."""
        return jax.grad(self)(x)
