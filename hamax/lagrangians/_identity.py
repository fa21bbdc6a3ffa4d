import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian


class Identity(AbstractLagrangian):
    r"""$L(x) = \tfrac12\lVert x\rVert^2$, whose activation is the identity $g = x$."""

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return 0.5 * jnp.sum(x * x)
