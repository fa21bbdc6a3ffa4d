import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from ._base import AbstractSynapse, PartialEnergy, require_param


class DenseSynapse(AbstractSynapse):
    r"""Pairwise dense synapse $E = -g_1^\top W g_2$ (inputs flattened).

    The classical Hopfield / RBM coupling. $\partial E/\partial g_1 = -W g_2$ and
    $\partial E/\partial g_2 = -W^\top g_1$. `W` has shape
    `(g1.size, g2.size)`, inferred from the connected layers.

    **Arguments:**

    - `W`: the weight matrix; leave as None to infer its shape when the HAM is
      built with a key.
    - `use_bias`: also learn a bias on the second layer,
      $E = -g_1^\top W g_2 - \langle b, g_2\rangle$ (the "linear + bias" synapse).
    - `b`: the bias (shape of `g2`), inferred when `use_bias=True`.
    - `init_std`: standard deviation of the normal initialisation; default
      $1/\sqrt{\text{g1.size}}$.
    """

    arity = 2
    W: Float[Array, "d1 d2"] | None = None
    b: Float[Array, "..."] | None = None
    use_bias: bool = eqx.field(static=True, default=False)
    init_std: float | None = None

    @property
    def is_initialized(self) -> bool:
        return self.W is not None

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        d1, d2 = (math.prod(s) for s in shapes)
        std = self.init_std if self.init_std is not None else 1 / math.sqrt(d1)
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        W = std * jr.normal(key, (d1, d2), dtype)
        b = jnp.zeros(shapes[1], dtype) if self.use_bias else None
        return DenseSynapse(W=W, b=b, use_bias=self.use_bias, init_std=std)

    @jax.named_scope("hamax.DenseSynapse")
    def __call__(self, g1: Float[Array, "..."], g2: Float[Array, "..."]) -> Scalar:
        W = require_param(self.W, "DenseSynapse")
        if (g1.size, g2.size) != W.shape:
            raise ValueError(
                f"DenseSynapse with W.shape={W.shape} expected activations with "
                f"{W.shape[0]} and {W.shape[1]} elements, got g1.shape={g1.shape} "
                f"and g2.shape={g2.shape}. hamax functions act on one example; "
                "batch with jax.vmap, e.g. jax.vmap(ham.energy)(xs)."
            )
        return -jnp.dot(g1.reshape(-1), W @ g2.reshape(-1)) - self._bias_energy(g2)

    def _bias_energy(self, g2):
        if self.b is None:
            return jnp.zeros((), g2.dtype)
        return jnp.sum(self.b * g2)

    def partial(self, fixed):
        W = require_param(self.W, "DenseSynapse")
        if set(fixed) == {0}:
            # The drive W^T g1 from a clamped layer, computed once per descent.
            h = fixed[0].reshape(-1) @ W
            return PartialEnergy(_from_first, (h, self.b))
        if set(fixed) == {1}:
            h = W @ fixed[1].reshape(-1)
            const = self._bias_energy(fixed[1])
            return PartialEnergy(_from_second, (h, const))
        return super().partial(fixed)


def _from_first(data, g2):
    h, b = data
    bias = jnp.zeros((), g2.dtype) if b is None else jnp.sum(b * g2)
    return -jnp.dot(h, g2.reshape(-1)) - bias


def _from_second(data, g1):
    h, const = data
    return -jnp.dot(g1.reshape(-1), h) - const
