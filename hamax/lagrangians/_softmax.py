import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian, check_beta
from ._learnable import HyperScalar


class Softmax(AbstractLagrangian):
    r"""$L(x) = \frac1\beta \log\sum_i e^{\beta x_i}$ along `axis`; activation
    $\mathrm{softmax}(\beta x)$.

    For tensors with more than one dimension, the log-sum-exp is taken along `axis`
    and summed over the remaining axes, so each slice is an independent softmax.
    `axis=None` takes one softmax over all elements.
    """

    beta: HyperScalar = 1.0
    axis: int | tuple[int, ...] | None = eqx.field(static=True, default=-1)

    def __check_init__(self):
        check_beta("Softmax", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return jnp.sum(jax.nn.logsumexp(self.beta * x, axis=self.axis)) / self.beta


def _ghost_logsumexp(y, axis):
    # log(1 + sum_i e^{y_i}) = log(e^0 + sum_i e^{y_i}): a log-sum-exp with a
    # "ghost" entry fixed at zero, shifted by max(y, 0) for stability.
    m = jnp.maximum(jnp.max(y, axis=axis, keepdims=True), 0)
    m = jax.lax.stop_gradient(m)
    s = jnp.sum(jnp.exp(y - m), axis=axis, keepdims=True) + jnp.exp(-m)
    return jnp.log(s) + m


class Ghostmax(AbstractLagrangian):
    r"""$L(x) = \frac1\beta \log\left(1 + \sum_i e^{\beta x_i}\right)$ along `axis`.

    The activation is the "ghostmax" $e^{\beta x_i} / (1 + \sum_j e^{\beta x_j})$:
    a softmax with an extra zero logit, which lets every unit be off at once.
    """

    beta: HyperScalar = 1.0
    axis: int | tuple[int, ...] | None = eqx.field(static=True, default=-1)

    def __check_init__(self):
        check_beta("Ghostmax", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return jnp.sum(_ghost_logsumexp(self.beta * x, self.axis)) / self.beta


def ghostmax(
    x: Float[Array, "*shape"], axis: int | None = -1
) -> Float[Array, "*shape"]:
    r"""The ghostmax activation $e^{x_i} / (1 + \sum_j e^{x_j})$ along `axis`."""
    return Ghostmax(axis=axis).activation(x)
