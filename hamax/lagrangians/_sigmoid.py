import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian, check_beta
from ._learnable import HyperScalar


def _logcosh(y):
    # log cosh y = |y| + log(1 + e^{-2|y|}) - log 2: never overflows, unlike
    # jnp.log(jnp.cosh(y)), which is inf for |y| > ~89 in float32.
    a = jnp.abs(y)
    return a + jax.nn.softplus(-2 * a) - jnp.log(2.0).astype(y.dtype)


@jax.custom_jvp
def _tanh_lagrangian(x, beta):
    return _logcosh(beta * x) / beta


@_tanh_lagrangian.defjvp
def _tanh_lagrangian_jvp(primals, tangents):
    # d/dx = tanh(beta x); d/dbeta = (x tanh(beta x) - L) / beta. Written out so
    # that the activation is exactly jnp.tanh (stable), not a difference of
    # nearly equal terms from differentiating the stable formula above.
    x, beta = primals
    dx, dbeta = tangents
    out = _tanh_lagrangian(x, beta)
    t = jnp.tanh(beta * x)
    return out, t * dx + (x * t - out) / beta * dbeta


@jax.custom_jvp
def _sigmoid_lagrangian(x, beta):
    return jax.nn.softplus(beta * x) / beta


@_sigmoid_lagrangian.defjvp
def _sigmoid_lagrangian_jvp(primals, tangents):
    x, beta = primals
    dx, dbeta = tangents
    out = _sigmoid_lagrangian(x, beta)
    s = jax.nn.sigmoid(beta * x)
    return out, s * dx + (x * s - out) / beta * dbeta


def _as_param(beta, x):
    return jnp.broadcast_to(jnp.asarray(beta, dtype=x.dtype), x.shape)


class Tanh(AbstractLagrangian):
    r"""$L(x) = \frac1\beta \sum \log\cosh(\beta x)$; activation $\tanh(\beta x)$.

    Computed in a form that is finite for every finite input, with a custom JVP so
    that the activation is exactly `tanh` (the original HAMUX returns `inf` at
    $x = 100$).
    """

    beta: HyperScalar = 1.0

    def __check_init__(self):
        check_beta("Tanh", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return jnp.sum(_tanh_lagrangian(x, _as_param(self.beta, x)))


class Sigmoid(AbstractLagrangian):
    r"""$L(x) = \frac1\beta \sum \log(1 + e^{\beta x})$; activation $\sigma(\beta x)$.

    Computed with a stable softplus and a custom JVP, so values and activations
    are finite for every finite input.
    """

    beta: HyperScalar = 1.0

    def __check_init__(self):
        check_beta("Sigmoid", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return jnp.sum(_sigmoid_lagrangian(x, _as_param(self.beta, x)))
