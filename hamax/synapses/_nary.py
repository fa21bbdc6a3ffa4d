import math
import string

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from ._base import AbstractSynapse, require_param


class NaryDenseSynapse(AbstractSynapse):
    r"""A dense n-ary (multiplicative) synapse: $E = -\sum W_{ij\dots k}\, g_{1,i}
    g_{2,j} \cdots g_{n,k}$.

    The tensor `W` has one axis per connected layer (each layer flattened), so
    its size is the product of the layer sizes: use it for small layers.

    **Arguments:**

    - `W`: the coupling tensor, inferred when None.
    - `init_std`: default $1/\sqrt{\prod_{i<n} d_i}$.
    """

    W: Float[Array, "..."] | None = None
    init_std: float | None = None

    @property
    def is_initialized(self) -> bool:
        return self.W is not None

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        if len(shapes) < 2 or len(shapes) > 20:
            raise ValueError(
                f"NaryDenseSynapse connects 2 to 20 layers, got {len(shapes)}."
            )
        dims = tuple(math.prod(s) for s in shapes)
        std = self.init_std or 1 / math.sqrt(math.prod(dims[:-1]))
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        return NaryDenseSynapse(W=std * jr.normal(key, dims, dtype), init_std=std)

    @jax.named_scope("hamax.NaryDenseSynapse")
    def __call__(self, *gs: Float[Array, "..."]) -> Scalar:
        W = require_param(self.W, "NaryDenseSynapse")
        sizes = tuple(g.size for g in gs)
        if sizes != W.shape:
            raise ValueError(
                f"NaryDenseSynapse with W.shape={W.shape} expected activations with "
                f"{W.shape} elements, got shapes {[g.shape for g in gs]}. hamax "
                "functions act on one example; batch with jax.vmap."
            )
        letters = string.ascii_letters[: len(gs)]
        spec = ",".join(letters) + "," + letters + "->"
        return -jnp.einsum(spec, *(g.reshape(-1) for g in gs), W)
