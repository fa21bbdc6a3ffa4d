"""Associative memories that are not classifiers: classical, dense, transformer."""

import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._ham import HAM
from .._neurons import NeuronLayer
from ..lagrangians import LayerNorm, ReLU, Softmax, Tanh
from ..synapses import DenseHiddenSynapse, DenseSynapse, SelfAttentionSynapse


def make_classical_hopfield(
    patterns: Float[Array, "..."], *, beta: float = 2.0, dtype=None
) -> HAM:
    r"""A classical (Hopfield 1982) network storing ±1 `patterns` by Hebb's rule.

    One tanh layer with a symmetric self-connection $W = \frac{1}{2n}\sum_\mu
    \xi_\mu\xi_\mu^\top$ (zero diagonal); its fixed points near the stored
    patterns have $g \approx \tanh(\beta\,\xi)$.
    """
    patterns = jnp.asarray(patterns, dtype)
    if patterns.ndim != 2:
        raise ValueError(
            f"make_classical_hopfield expected `patterns` of shape (num_patterns, "
            f"num_neurons), got {patterns.shape}."
        )
    n = patterns.shape[1]
    W = 0.5 * (patterns.T @ patterns) / n
    W = W - jnp.diag(jnp.diag(W))
    layer = NeuronLayer(Tanh(beta=beta), n)
    return HAM({"x": layer}, {"hebb": DenseSynapse(W=W)}, [(("x", "x"), "hebb")])


def make_dense_am(
    dim: int,
    *,
    num_memories: int = 100,
    beta: float = 4.0,
    memories: Float[Array, "m d"] | None = None,
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    r"""A Dense Associative Memory / modern Hopfield network on one layer.

    $E = E_x - \frac1\beta\log\sum_\mu \exp(\beta\,\xi_\mu\cdot g)$ with unit-norm
    memories $\xi_\mu$; pass `memories` to store given patterns.
    """
    syn = DenseHiddenSynapse(num_memories, Softmax(beta), normalize=True)
    if memories is not None:
        memories = jnp.asarray(memories, dtype)
        syn = DenseHiddenSynapse(
            memories.shape[0],
            Softmax(beta),
            normalize=True,
            Ws=(memories.T[:, None, :],),
        )
    layer = NeuronLayer(Tanh(), dim)
    return HAM(
        {"x": layer}, {"memories": syn}, [(("x",), "memories")], key=key, dtype=dtype
    )


def make_energy_transformer(
    num_tokens: int,
    dim: int,
    *,
    num_heads: int = 4,
    head_dim: int = 16,
    num_hidden: int = 64,
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    r"""An Energy Transformer block (Hoover et al. 2023): layer-normed tokens with a
    self-attention energy and a per-token Hopfield (ReLU memories) energy.
    """
    tokens = NeuronLayer(LayerNorm(), (num_tokens, dim))
    synapses = {
        "attention": SelfAttentionSynapse(num_heads, head_dim),
        "hopfield": DenseHiddenSynapse(num_hidden, ReLU(), per_token=True),
    }
    connections = [(("tokens",), "attention"), (("tokens",), "hopfield")]
    return HAM({"tokens": tokens}, synapses, connections, key=key, dtype=dtype)
