import math
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from ..lagrangians import ReLU
from ._base import AbstractSynapse, PartialEnergy, require_param
from ._memory_chunks import check_streamable, memory_slice, streamed_lagrangian


class DenseHiddenSynapse(AbstractSynapse):
    r"""Dense synapse with an integrated hidden layer (Dense Associative Memory).

    $E = -L_h\big(\sum_i W_i\, g_i\big)$ over the connected layers $g_1..g_n$
    (n-ary: one or more), where $L_h$ is the hidden layer's Lagrangian. This is
    what a hidden layer with a fast time constant contributes once it is at
    equilibrium ($h = \sum_i W_i g_i$), so the rows of $W = [W_1 \dots W_n]$ are
    the stored memories: with `ReLU` it is the paper's "HN (ReLU)", with
    `Softmax(beta)` and `normalize=True` a modern Hopfield network.

    **Arguments:**

    - `num_hidden`: number of memories (hidden neurons) per head.
    - `lagrangian`: the hidden Lagrangian $L_h$ (default `ReLU()`), applied to an
      array of shape `(num_heads, num_hidden)` (or `(*tokens, num_heads,
      num_hidden)` with `per_token`): a `Softmax` competes within each head.
    - `num_heads`: independent groups of memories. Default 1.
    - `normalize`: `False` (default); `True` gives each memory unit norm over all
      connected layers together; `"per_layer"` gives each memory's part in each
      layer unit norm (so a small layer, like 10 labels, is not drowned out by a
      large one, like 784 pixels).
    - `per_token`: act on the last axis only, the same memories for every
      leading index (the Hopfield module of the Energy Transformer). All
      connected layers must then share their leading axes.
    - `Ws`: the memories, one `(d_i, num_heads, num_hidden)` array per layer: the
      transpose of the usual `(memory, feature)` layout, so that the hidden drive
      and the weight gradients are plain row-major matrix products (10% faster
      HN training on CPU than the `(memory, feature)` layout, whose weight
      gradients XLA:CPU computes as narrow column matrices). `memories()` gives
      the `(num_heads, num_hidden, d_i)` view.
    - `init_std`: default $1/\sqrt{\sum_i d_i}$.
    - `memory_chunk`: `None` (default) computes the hidden drive of all memories
      at once. A positive int computes the energy and its gradients
      `memory_chunk` memories at a time (a streaming log-sum-exp for `Softmax`
      and `Ghostmax`, a plain sum for separable Lagrangians such as `ReLU`,
      `RePU` or `Exp`), so that memory grows with the chunk, not with the
      number of memories; the result equals the unchunked energy up to float
      rounding. Any size works, including one that does not divide
      `num_hidden`. The backward pass recomputes each chunk's drive, and the
      drive of clamped layers is recomputed per chunk instead of being stored
      for every memory. Memories stored in a narrower dtype than the
      activations (e.g. bfloat16) are cast to it one chunk at a time.
      Lagrangians that are neither separable nor a log-sum-exp over the
      memories (`LayerNorm`, `SphericalNorm`, a plain function) raise.
    """

    num_hidden: int = eqx.field(static=True)
    lagrangian: Callable[[Array], Scalar]
    num_heads: int = eqx.field(static=True)
    normalize: bool | str = eqx.field(static=True)
    per_token: bool = eqx.field(static=True)
    Ws: tuple[Float[Array, "d heads hidden"], ...] | None
    init_std: float | None
    memory_chunk: int | None = eqx.field(static=True, default=None)

    def __init__(
        self,
        num_hidden: int,
        lagrangian: Callable[[Array], Scalar] | None = None,
        *,
        num_heads: int = 1,
        normalize: bool | str = False,
        per_token: bool = False,
        Ws: tuple[Float[Array, "d heads hidden"], ...] | None = None,
        init_std: float | None = None,
        memory_chunk: int | None = None,
    ):
        for name, v in (("num_hidden", num_hidden), ("num_heads", num_heads)):
            if not (isinstance(v, int) and v > 0):
                raise ValueError(
                    f"DenseHiddenSynapse expected `{name}` to be a positive int, "
                    f"got {v!r}."
                )
        if normalize not in (False, True, "per_layer"):
            raise ValueError(
                "DenseHiddenSynapse expected `normalize` to be False, True or "
                f"'per_layer', got {normalize!r}."
            )
        if memory_chunk is not None and not (
            isinstance(memory_chunk, int)
            and not isinstance(memory_chunk, bool)
            and memory_chunk > 0
        ):
            raise ValueError(
                "DenseHiddenSynapse expected `memory_chunk` to be None or a positive "
                f"int (memories per chunk), got {memory_chunk!r}."
            )
        self.num_hidden = num_hidden
        self.lagrangian = ReLU() if lagrangian is None else lagrangian
        self.num_heads = num_heads
        self.normalize = normalize
        self.per_token = per_token
        self.Ws = None if Ws is None else tuple(Ws)
        self.init_std = init_std
        self.memory_chunk = memory_chunk
        if memory_chunk is not None:
            check_streamable(self.lagrangian, "DenseHiddenSynapse")

    @property
    def is_initialized(self) -> bool:
        return self.Ws is not None

    def _dims(self, shapes):
        if not self.per_token:
            return [math.prod(s) for s in shapes]
        lead = {s[:-1] for s in shapes}
        if len(lead) != 1:
            raise ValueError(
                "DenseHiddenSynapse(per_token=True) needs layers with the same "
                f"leading (token) axes, got shapes {list(shapes)}."
            )
        return [s[-1] for s in shapes]

    def init(self, shapes, *, dtype=None, key: PRNGKeyArray):
        dims = self._dims(shapes)
        std = self.init_std or 1 / math.sqrt(sum(dims))
        dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
        keys = jr.split(key, len(dims))
        Ws = tuple(
            std * jr.normal(k, (d, self.num_heads, self.num_hidden), dtype)
            for k, d in zip(keys, dims)
        )
        return eqx.tree_at(
            lambda s: (s.Ws, s.init_std), self, (Ws, std), is_leaf=lambda x: x is None
        )

    def _weights(self) -> tuple:
        # The stored layout, unit-normalised over `d` if `normalize`.
        return self._normalized(require_param(self.Ws, "DenseHiddenSynapse"))

    def _normalized(self, Ws):
        # Normalisation is per memory (over `d`), so it applies to any slice of
        # the memories alike.
        if not self.normalize:
            return Ws
        tiny = jnp.finfo(Ws[0].dtype).tiny
        if self.normalize == "per_layer":
            return tuple(
                W * jax.lax.rsqrt(jnp.sum(W * W, axis=0, keepdims=True) + tiny)
                for W in Ws
            )
        sq = sum(jnp.sum(W * W, axis=0, keepdims=True) for W in Ws)
        inv = jax.lax.rsqrt(sq + tiny)
        return tuple(W * inv for W in Ws)

    def memories(self) -> tuple[Float[Array, "heads hidden d"], ...]:
        """The memories actually used (unit-normalised if `normalize`), one
        `(num_heads, num_hidden, d_i)` array per layer: row `[k, m]` is memory `m`
        of head `k`."""
        return tuple(jnp.transpose(W, (1, 2, 0)) for W in self._weights())

    def _project(self, W, g):
        # One row-major (d, heads * hidden) matrix product, reshaped afterwards:
        # einsum over the 3-D memory tensor made XLA:CPU transpose and copy the
        # memories (and the batch of hidden states) on every descent step.
        d, k, h = W.shape
        W2 = W.reshape(d, k * h)
        if self.per_token:
            return (g @ W2).reshape(*g.shape[:-1], k, h)
        if g.size != d:
            raise ValueError(
                f"DenseHiddenSynapse with memories of {d} elements got an "
                f"activation of shape {g.shape}. hamax functions act on one "
                "example; batch with jax.vmap."
            )
        return (g.reshape(-1) @ W2).reshape(k, h)

    def hidden(self, *gs: Float[Array, "..."]) -> Float[Array, "... heads hidden"]:
        r"""The hidden pre-activations $h = \sum_i W_i g_i$."""
        Ws = self._weights()
        if len(gs) != len(Ws):
            raise ValueError(
                f"DenseHiddenSynapse was initialised for {len(Ws)} layer(s) but got "
                f"{len(gs)} activation(s)."
            )
        return sum(self._project(W, g) for W, g in zip(Ws, gs))

    @jax.named_scope("hamax.DenseHiddenSynapse")
    def __call__(self, *gs: Float[Array, "..."]) -> Scalar:
        if self.memory_chunk is not None:
            Ws = require_param(self.Ws, "DenseHiddenSynapse")
            if len(gs) != len(Ws):
                self.hidden(*gs)  # raises the arity message
            return self._chunked_energy(tuple(zip(Ws, gs)))
        return -self.lagrangian(self.hidden(*gs))

    def _chunked_energy(self, pairs) -> Scalar:
        # `pairs`: (stored memories, activation) per layer, clamped or free.
        def drive(start, size):
            # Cast before normalising: bfloat16 memories get float32 norms.
            Ws = self._normalized(
                tuple(memory_slice(W, start, size).astype(g.dtype) for W, g in pairs)
            )
            return sum(self._project(W, g) for W, (_, g) in zip(Ws, pairs))

        assert self.memory_chunk is not None
        return -streamed_lagrangian(
            self.lagrangian, drive, self.num_hidden, self.memory_chunk
        )

    def partial(self, fixed):
        if self.memory_chunk is not None:
            # A hoisted drive would hold one value per memory: keep the clamped
            # activations instead, and project them chunk by chunk.
            require_param(self.Ws, "DenseHiddenSynapse")
            return PartialEnergy(_chunked_hidden_energy, (self, dict(fixed)))
        Ws = self._weights()
        # The clamped layers' share of the hidden drive, computed once.
        h_fixed = sum(self._project(Ws[i], g) for i, g in fixed.items())
        free_W = tuple(W for i, W in enumerate(Ws) if i not in fixed)
        return PartialEnergy(_hidden_energy, (self, h_fixed, free_W))


def _hidden_energy(data, *free):
    synapse, h_fixed, free_W = data
    h = h_fixed + sum(synapse._project(W, g) for W, g in zip(free_W, free))
    return -synapse.lagrangian(h)


def _chunked_hidden_energy(data, *free):
    synapse, fixed = data
    free_iter = iter(free)
    gs = [fixed[i] if i in fixed else next(free_iter) for i in range(len(synapse.Ws))]
    return synapse._chunked_energy(tuple(zip(synapse.Ws, gs)))
