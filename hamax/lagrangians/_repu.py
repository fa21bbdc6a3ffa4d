import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar, ScalarLike
from ._base import AbstractLagrangian


class RePU(AbstractLagrangian):
    r"""Rectified power unit: $L(x) = \frac1n \sum \max(x, 0)^n$.

    The activation is $g = \max(x, 0)^{n-1}$, the polynomial interaction of dense
    associative memories (Krotov & Hopfield, 2016). Convex for $n \ge 1$.
    """

    n: ScalarLike = 3.0

    def __check_init__(self):
        if isinstance(self.n, int | float) and self.n < 1:
            raise ValueError(
                f"RePU expected `n` >= 1 (the Lagrangian must be convex), got "
                f"n={self.n}."
            )

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return jnp.sum(jnp.maximum(x, 0) ** self.n) / self.n


class ReLU(AbstractLagrangian):
    r"""$L(x) = \tfrac12 \sum \max(x, 0)^2$, whose activation is $\max(x, 0)$."""

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        relu = jnp.maximum(x, 0)
        return 0.5 * jnp.sum(relu * relu)
