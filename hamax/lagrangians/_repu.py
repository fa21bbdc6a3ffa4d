import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian, check_hyperparameter
from ._learnable import HyperScalar


class RePU(AbstractLagrangian):
    r"""Rectified power unit: $L(x) = \frac1n \sum \max(x, 0)^n$.

    The activation is $g = \max(x, 0)^{n-1}$, the polynomial interaction of dense
    associative memories (Krotov & Hopfield, 2016). Convex for $n \ge 1$.
    """

    n: HyperScalar = 3.0

    def __check_init__(self):
        check_hyperparameter(
            "RePU",
            "n",
            self.n,
            low=1.0,
            strict=False,
            why="the Lagrangian must be convex",
        )

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return jnp.sum(jnp.maximum(x, 0) ** self.n) / self.n


def _relu(x):
    # `where`, not `maximum`: its derivative is one select, where the derivative of
    # `maximum` splits ties (x == 0) with a compare, two selects and a divide, on
    # every element of the hidden layer in every step of a training backward pass.
    return jnp.where(x > 0, x, jnp.zeros((), x.dtype))


@jax.custom_jvp
def _relu_lagrangian(x):
    r = _relu(x)
    return 0.5 * jnp.sum(r * r)


@_relu_lagrangian.defjvp
def _relu_lagrangian_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    r = _relu(x)
    return 0.5 * jnp.sum(r * r), jnp.sum(r * dx)


class ReLU(AbstractLagrangian):
    r"""$L(x) = \tfrac12 \sum \max(x, 0)^2$, whose activation is $\max(x, 0)$.

    The gradient is written out (a custom JVP), so the activation and its own
    derivative are single selects: the hidden layer of the paper's models costs
    one pass per descent step, forward and backward.
    """

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return _relu_lagrangian(x)

    def activation(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return _relu(x)
