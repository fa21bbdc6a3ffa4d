import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian, check_beta
from ._learnable import HyperScalar


# exp(y) is used exactly up to y = _EXP_MAX; beyond it the function continues by
# its second-order Taylor expansion, which is convex, C^2 and finite in float32 for
# |x| far beyond 1e4 (exp(40) * (1e4)^2 ~ 2e25 < 3e38). The exponential itself
# would overflow float32 at y ~ 88 and return inf.
_EXP_MAX = 40.0


def _safe_exp_integral(y):
    """exp(y) for y <= _EXP_MAX, its quadratic continuation above."""
    yc = jnp.minimum(y, _EXP_MAX)
    d = y - yc
    return jnp.exp(yc) * (1 + d + 0.5 * d * d)


class Exp(AbstractLagrangian):
    r"""$L(x) = \frac1\beta \sum e^{\beta x}$; activation $g = e^{\beta x}$.

    The interaction function of Demircigil et al. (2017). For $\beta x > 40$ the
    exponential is continued by its quadratic Taylor expansion so that values and
    activations stay finite in float32 (they are exact below that point).
    """

    beta: HyperScalar = 1.0

    def __check_init__(self):
        check_beta("Exp", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        return jnp.sum(_safe_exp_integral(self.beta * x)) / self.beta


class RExp(AbstractLagrangian):
    r"""Rectified exponential: $L(x) = \sum \frac1\beta e^{\beta x^+} - x^+$.

    With $x^+ = \max(x, 0)$ the activation is $g = e^{\beta x^+} - 1$: zero for
    negative inputs, exponential growth for positive ones (same overflow guard as
    `Exp`).
    """

    beta: HyperScalar = 1.0

    def __check_init__(self):
        check_beta("RExp", self.beta)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        xp = jnp.maximum(x, 0)
        return jnp.sum(_safe_exp_integral(self.beta * xp) / self.beta - xp)
