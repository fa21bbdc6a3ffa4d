import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from ..lagrangians import Softmax
from ._base import AbstractSynapse, PartialEnergy, require_param


class EuclideanHiddenSynapse(AbstractSynapse):
    r"""A hidden layer of memories scored by Euclidean distance instead of
    overlap: the Euclidean similarity of Universal Hopfield Networks (Millidge et
    al. 2022) as an energy.

    $E = -L_h(h)$ with
    $h_\mu = \sum_i \xi^{(i)}_\mu \cdot g_i - \tfrac12 \sum_i \lVert \xi^{(i)}_\mu
    \rVert^2 = -\tfrac12 \sum_i \lVert \xi^{(i)}_\mu - g_i \rVert^2 + \tfrac12
    \sum_i \lVert g_i \rVert^2$
    over the connected layers $g_1..g_n$: minus half the squared distance of the
    activations to memory $\mu$, plus a term shared by all memories. With
    `Softmax(beta)` the shared term cancels, so the memories are weighted by
    $\mathrm{softmax}(-\tfrac\beta2 \lVert \xi_\mu - g \rVert^2)$: the nearest
    memory wins, where an overlap ([`hamax.synapses.DenseHiddenSynapse`][]) favours
    the memory with the largest norm. Since $\partial h_\mu / \partial g_i =
    \xi^{(i)}_\mu$, an identity visible layer stepped once with `dt = 1` moves to
    $\sum_\mu \xi_\mu\, \mathrm{softmax}(\cdot)_\mu$, the UHN single-shot update.

    **Arguments:**

    - `num_hidden`: number of memories.
    - `lagrangian`: the hidden Lagrangian $L_h$ (the separation function);
      default `Softmax(1.0)`.
    - `Ws`: the memories, one `(d_i, num_hidden)` array per connected layer
      (column $\mu$ is memory $\mu$'s part in layer $i$, flattened); default
      drawn at init with standard deviation `init_std`.
    - `init_std`: default $1/\sqrt{\sum_i d_i}$.
    """

    num_hidden: int = eqx.field(static=True)
    lagrangian: Callable[[Array], Scalar]
    Ws: tuple[Float[Array, "d hidden"], ...] | None
    init_std: float | None

    def __init__(
        self,
        num_hidden: int,
        lagrangian: Callable[[Array], Scalar] | None = None,
        *,
        Ws: tuple[Float[Array, "d hidden"], ...] | None = None,
        init_std: float | None = None,
    ):
        if isinstance(num_hidden, bool) or not (
            isinstance(num_hidden, int) and num_hidden > 0
        ):
            raise ValueError(
                "EuclideanHiddenSynapse expected `num_hidden` to be a positive int, "
                f"got {num_hidden!r}."
            )
        if Ws is not None:
            Ws = tuple(jnp.asarray(W) for W in Ws)
            bad = [W.shape for W in Ws if W.ndim != 2 or W.shape[1] != num_hidden]
            if bad:
                raise ValueError(
                    "EuclideanHiddenSynapse expected each of `Ws` to have shape "
                    f"(d, num_hidden={num_hidden}), got {bad[0]}; store memories "
                    "as columns, e.g. Ws=(memories.T,)."
                )
        self.num_hidden = num_hidden
        self.lagrangian = Softmax(1.0) if lagrangian is None else lagrangian
        self.Ws = Ws
        self.init_std = init_std

    @property
    def is_initialized(self) -> bool:
        return self.Ws is not None

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        dims = [math.prod(s) for s in shapes]
        std = self.init_std or 1 / math.sqrt(sum(dims))
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        keys = jr.split(key, len(dims))
        Ws = tuple(
            std * jr.normal(k, (d, self.num_hidden), dtype) for k, d in zip(keys, dims)
        )
        return eqx.tree_at(
            lambda s: (s.Ws, s.init_std), self, (Ws, std), is_leaf=lambda x: x is None
        )

    def memories(self) -> tuple[Float[Array, "hidden d"], ...]:
        """The memories, one `(num_hidden, d_i)` array per layer: row `m` is
        memory `m`'s part in that layer."""
        return tuple(W.T for W in require_param(self.Ws, "EuclideanHiddenSynapse"))

    def _bias(self) -> Float[Array, " hidden"]:
        # -1/2 |xi_mu|^2 over all layers: loop-invariant, so `partial` hoists it.
        Ws = require_param(self.Ws, "EuclideanHiddenSynapse")
        return -0.5 * jnp.sum(jnp.stack([jnp.sum(W * W, axis=0) for W in Ws]), 0)

    def _project(self, W, g):
        if g.size != W.shape[0]:
            raise ValueError(
                f"EuclideanHiddenSynapse with memories of {W.shape[0]} elements got "
                f"an activation of shape {g.shape}. hamax functions act on one "
                "example; batch with jax.vmap."
            )
        return g.reshape(-1) @ W

    def hidden(self, *gs: Float[Array, "..."]) -> Float[Array, " hidden"]:
        r"""The hidden pre-activations $h_\mu$ (see the class docstring)."""
        Ws = require_param(self.Ws, "EuclideanHiddenSynapse")
        if len(gs) != len(Ws):
            raise ValueError(
                f"EuclideanHiddenSynapse was initialised for {len(Ws)} layer(s) but "
                f"got {len(gs)} activation(s)."
            )
        return self._bias() + sum(self._project(W, g) for W, g in zip(Ws, gs))

    @jax.named_scope("hamax.EuclideanHiddenSynapse")
    def __call__(self, *gs: Float[Array, "..."]) -> Scalar:
        return -self.lagrangian(self.hidden(*gs))

    def partial(self, fixed):
        Ws = require_param(self.Ws, "EuclideanHiddenSynapse")
        # The bias and the clamped layers' drive, computed once per system.
        h_fixed = self._bias() + sum(self._project(Ws[i], g) for i, g in fixed.items())
        free_W = tuple(W for i, W in enumerate(Ws) if i not in fixed)
        return PartialEnergy(_hidden_energy, (self, h_fixed, free_W))


def _hidden_energy(data, *free):
    synapse, h_fixed, free_W = data
    h = h_fixed + sum(synapse._project(W, g) for W, g in zip(free_W, free))
    return -synapse.lagrangian(h)
