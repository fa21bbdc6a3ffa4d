import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._custom_types import Scalar
from ._base import AbstractLagrangian, check_hyperparameter
from ._learnable import HyperScalar, HyperTensor


def _axis_size(x, axis) -> int:
    if axis is None:
        return x.size
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(x.shape[a] for a in axes)


class _AbstractNorm(AbstractLagrangian):
    # The hyperparameters and their checks shared by the normalisation
    # Lagrangians; each concrete class declares the fields (equinox's
    # abstract/final pattern) and implements `__call__`.
    gamma: eqx.AbstractVar[HyperScalar]
    eps: eqx.AbstractVar[float]

    def __check_init__(self):
        # Only concrete numbers can be checked; a traced or learnable gamma is
        # trusted.
        owner = type(self).__name__
        check_hyperparameter(
            owner,
            "gamma",
            self.gamma,
            low=0.0,
            strict=False,
            why="the Lagrangian must be convex",
        )
        check_hyperparameter(
            owner,
            "eps",
            self.eps,
            low=0.0,
            strict=False,
            why="it is added under a square root; use e.g. eps=1e-5",
        )


def _delta_term(delta, x):
    # Broadcast explicitly: the bias is added once per element, never once per
    # row (the original HAMUX added sum(delta * x) to every row).
    return jnp.sum(jnp.broadcast_to(jnp.asarray(delta, dtype=x.dtype), x.shape) * x)


class LayerNorm(_AbstractNorm):
    r"""Lagrangian of layer normalisation.

    $L(x) = \sum_{\text{rows}} D\gamma\sqrt{\mathrm{Var}(x) + \epsilon} +
    \sum \delta x$, with the variance taken along `axis` (of size $D$). Its
    activation is $g = \gamma (x - \bar x)/\sqrt{\mathrm{Var}(x) + \epsilon} +
    \delta$, as in the Energy Transformer. Convex for $\gamma \ge 0$; `gamma` is a
    scalar and `delta` anything broadcastable to the state.
    """

    gamma: HyperScalar = 1.0
    delta: HyperTensor = 0.0
    axis: int | tuple[int, ...] | None = eqx.field(static=True, default=-1)
    eps: float = eqx.field(static=True, default=1e-5)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        d = _axis_size(x, self.axis)
        xc = x - jnp.mean(x, axis=self.axis, keepdims=True)
        std = jnp.sqrt(jnp.mean(xc * xc, axis=self.axis) + self.eps)
        return d * self.gamma * jnp.sum(std) + _delta_term(self.delta, x)


class SphericalNorm(_AbstractNorm):
    r"""Lagrangian of L2 (spherical) normalisation.

    $L(x) = \sum_{\text{rows}} \gamma\sqrt{\lVert x\rVert^2 + \epsilon} +
    \sum\delta x$, norm along `axis`; activation
    $g = \gamma x / \sqrt{\lVert x\rVert^2 + \epsilon} + \delta$.
    """

    gamma: HyperScalar = 1.0
    delta: HyperTensor = 0.0
    axis: int | tuple[int, ...] | None = eqx.field(static=True, default=-1)
    eps: float = eqx.field(static=True, default=1e-5)

    def __call__(self, x: Float[Array, "*shape"]) -> Scalar:
        norm = jnp.sqrt(jnp.sum(x * x, axis=self.axis) + self.eps)
        return self.gamma * jnp.sum(norm) + _delta_term(self.delta, x)
