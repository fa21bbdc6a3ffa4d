import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from .._misc import check_shape
from ._base import AbstractSynapse, require_param


class BiasSynapse(AbstractSynapse):
    r"""A learnable constant drive into one layer: $E = -\langle g, b\rangle$.

    `b` has the shape of the connected layer (inferred). $\partial E/\partial g =
    -b$, so the layer's fixed point is shifted by `b`.

    **Arguments:**

    - `b`: the bias; leave as None to infer its shape.
    - `init_std`: standard deviation of the initialisation (default 0: zeros).
    """

    arity = 1
    b: Float[Array, "..."] | None = None
    init_std: float = 0.0

    @property
    def is_initialized(self) -> bool:
        return self.b is not None

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        (shape,) = shapes
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        return BiasSynapse(
            b=self.init_std * jr.normal(key, shape, dtype), init_std=self.init_std
        )

    @jax.named_scope("hamax.BiasSynapse")
    def __call__(self, g: Float[Array, "..."]) -> Scalar:
        b = require_param(self.b, "BiasSynapse")
        check_shape("BiasSynapse", [b.shape], g)
        return -jnp.sum(g * b)
