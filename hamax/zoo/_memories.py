"""Associative memories that are not classifiers: classical, dense, transformer."""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from .._custom_types import Scalar
from .._ham import HAM
from .._neurons import NeuronLayer
from ..lagrangians import LayerNorm, ReLU, Softmax, Tanh
from ..synapses import DenseHiddenSynapse, DenseSynapse, SelfAttentionSynapse


def _as_patterns(patterns: Any, where: str, arg: str, dtype, binary: bool) -> Array:
    """A float (num_patterns, num_neurons) array, checked when concrete."""
    arr = jnp.asarray(patterns)
    if dtype is None and not jnp.issubdtype(arr.dtype, jnp.floating):
        dtype = jnp.result_type(float)  # float32, or float64 under x64
    arr = jnp.asarray(arr, dtype)
    if arr.ndim != 2:
        raise ValueError(
            f"{where} expected `{arg}` of shape (num_patterns, num_neurons), got "
            f"{arr.shape}. Stack one pattern per row, e.g. jnp.stack(patterns)."
        )
    if isinstance(arr, jax.core.Tracer):
        return arr  # values are only known at run time; shapes were checked
    values = np.asarray(arr)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{where} got `{arg}` containing NaN or inf.")
    if binary and not np.all(np.abs(values) == 1):
        bad = values[np.abs(values) != 1]
        raise ValueError(
            f"{where} expected `{arg}` with entries +1 and -1, got "
            f"{bad.size} other value(s), e.g. {float(bad.flat[0])!r}. Map {{0, 1}} "
            "data with 2 * p - 1, or real-valued data with jnp.sign."
        )
    return arr


def make_classical_hopfield(
    patterns: Float[Array | np.ndarray, "..."],
    *,
    beta: float = 10.0,
    dtype=None,
) -> HAM:
    r"""A classical (Hopfield 1982) network storing ±1 `patterns` by Hebb's rule.

    One tanh layer `"x"` with gain $\beta$ and a symmetric self-connection
    $W = \frac{1}{2n}\sum_\mu \xi_\mu\xi_\mu^\top$ (zero diagonal), so that
    $E = E_x - g^\top W g$ and the fixed point is
    $x_i = \frac1n\sum_{j\ne i}\sum_\mu \xi_{\mu i}\xi_{\mu j}\, g_j$, which at
    a stored pattern is the pattern plus the crosstalk of the others. The
    default gain makes $g = \tanh(\beta x)$ saturate at the pattern itself
    (a low gain, like $\beta = 2$, lets the crosstalk pull activations towards
    zero and loses most patterns well below the capacity $\approx 0.14\,n$).
    Retrieve with [`hamax.zoo.recall`][], whose defaults suit this network.

    **Arguments:**

    - `patterns`: `(num_patterns, num_neurons)` array of ±1 entries.
    - `beta`: gain of the tanh layer.
    - `dtype`: of the weights; default float32 (float64 under x64).

    **Returns:** a [`hamax.HAM`][] with one layer `"x"` of `num_neurons` neurons.

    !!! example

        ```python
        ham = hamax.zoo.make_classical_hopfield(patterns)
        restored = hamax.zoo.recall(ham, noisy_patterns)  # ~ ±1, batched
        ```
    """
    patterns = _as_patterns(
        patterns, "make_classical_hopfield", "patterns", dtype, True
    )
    if not beta > 0:
        raise ValueError(f"make_classical_hopfield expected `beta` > 0, got {beta!r}.")
    n = patterns.shape[1]
    W = 0.5 * (patterns.T @ patterns) / n
    W = W - jnp.diag(jnp.diag(W))
    layer = NeuronLayer(Tanh(beta=beta), n)
    return HAM(
        {"x": layer},
        {"hebb": DenseSynapse(W=W)},
        [(("x", "x"), "hebb")],
        dtype=W.dtype,
    )


def _check_separation(separation: Any) -> Callable[[Array], Scalar]:
    if isinstance(separation, type):
        raise ValueError(
            f"make_dense_am expected `separation` to be a Lagrangian instance, got "
            f"the class {separation.__name__}; call it, e.g. "
            f"separation={separation.__name__}()."
        )
    if not callable(separation):
        raise ValueError(
            "make_dense_am expected `separation` to be a Lagrangian, e.g. "
            "hamax.lagrangians.RePU(3.0) or Softmax(1.0), got "
            f"{type(separation).__name__} {separation!r}."
        )
    return separation


# Over 80 lines: the docstring is half of it; the rest checks every argument
# before building (each check with its own message) and then builds once.
def make_dense_am(
    dim: int | None = None,
    *,
    memories: Float[Array | np.ndarray, "..."] | None = None,
    separation: Any = None,
    num_memories: int = 100,
    beta: float | None = None,
    visible_beta: float = 10.0,
    remove_self_coupling: bool = True,
    memory_chunk: int | None = None,
    memory_dtype=None,
    key: PRNGKeyArray | None = None,
    dtype=None,
) -> HAM:
    r"""A Dense Associative Memory (Krotov & Hopfield 2016) / modern Hopfield network.

    One tanh layer `"x"` and the memories $\xi_\mu$ as the hidden layer of a
    [`hamax.synapses.DenseHiddenSynapse`][], whose Lagrangian $F$ is the
    *separation function*:
    $E = E_x - F(\Xi g)$, with $h_\mu = \xi_\mu \cdot g$ the raw overlaps of
    the activations with each memory. The fixed point is
    $x = \sum_\mu \xi_\mu\, f_\mu(h)$ with $f = \nabla F$: at a stored ±1
    pattern the pattern's own term dominates and $g = \tanh(\beta_v x)$ is the
    pattern itself (magnitudes near 1), not a copy scaled towards zero.
    Memories are stored as given (no normalisation), which is what makes the
    separation sharp: `RePU(n)` gives capacity growing as $N^{n-1}$,
    `Softmax(beta)` (the numerically stable form of Demircigil et al.'s
    exponential) a capacity exponential in $N$. `Exp(beta)` is exact only while
    $\beta h \le 40$ (its overflow guard continues it quadratically beyond);
    prefer `Softmax` for an exponential separation. Retrieve with
    [`hamax.zoo.recall`][], whose defaults suit these networks.

    **Arguments:**

    - `dim`: number of visible neurons; optional when `memories` are given.
    - `memories`: `(num_memories, dim)` patterns to store (±1 for the retrieved
      state to be the pattern itself). When given, no `key` is needed.
    - `separation`: the hidden Lagrangian $F$, any
      [`hamax.lagrangians.AbstractLagrangian`][] (e.g. `RePU(3.0)`,
      `Softmax(1.0)`, `Exp(0.05)`, `Sparsemax()`), a convex scalar function,
      or a separation function such as `LogSumReLU()` (not convex; the descent
      needs only the visible layer's Lagrangian to be). Default `Softmax(1.0)`.
    - `num_memories`: how many random ±1 memories to draw when `memories` is
      not given (needs `key`).
    - `beta`: shorthand for `separation=Softmax(beta)` (kept for backward
      compatibility); give `beta` or `separation`, not both.
    - `visible_beta`: gain of the visible tanh layer.
    - `memory_chunk`: memories handled at a time (default `None`: all), see
      [`hamax.synapses.DenseHiddenSynapse`][].
    - `memory_dtype`: a storage dtype for the memories other than `dtype` (e.g.
      `jnp.bfloat16`); needs `memory_chunk`, which casts one chunk at a time.
    - `key`: only to draw random memories.
    - `dtype`: of the memories; default float32 (float64 under x64).

    **Returns:** a [`hamax.HAM`][] with one layer `"x"` and one synapse
    `"memories"`.

    !!! example

        ```python
        ham = hamax.zoo.make_dense_am(memories=patterns, separation=RePU(3.0))
        restored = hamax.zoo.recall(ham, noisy_patterns)
        ```

    ??? cite "References"

        ```bibtex
        @inproceedings{krotov2016dense,
          title={Dense Associative Memory for Pattern Recognition},
          author={Krotov, Dmitry and Hopfield, John J.},
          booktitle={NeurIPS}, year={2016}}
        @article{demircigil2017model,
          title={On a Model of Associative Memory with Huge Storage Capacity},
          author={Demircigil, Mete and Heusel, Judith and L{\"o}we, Matthias and
                  Upgang, Sven and Vermet, Franck},
          journal={Journal of Statistical Physics}, year={2017}}
        ```
    """
    if beta is not None and separation is not None:
        raise ValueError(
            f"make_dense_am got both `beta`={beta!r} and `separation`="
            f"{separation!r}; `beta` is shorthand for separation=Softmax(beta), "
            "so give only one."
        )
    if beta is not None:
        separation = Softmax(beta)
    separation = _check_separation(Softmax(1.0) if separation is None else separation)
    if not visible_beta > 0:
        raise ValueError(
            f"make_dense_am expected `visible_beta` > 0, got {visible_beta!r}."
        )
    if memory_dtype is not None and memory_chunk is None:
        raise ValueError(
            f"make_dense_am got `memory_dtype`={memory_dtype!r} without "
            "`memory_chunk`; only the chunked synapse casts stored memories to the "
            "activations' dtype. Pass memory_chunk as well, e.g. memory_chunk=4096."
        )
    if memories is None:
        if key is None:
            raise ValueError(
                "make_dense_am needs `memories` to store, or a `key` to draw "
                f"{num_memories} random ±1 memories of dimension `dim`."
            )
        if dim is None:
            raise ValueError(
                "make_dense_am needs `dim` (the number of visible neurons) to draw "
                "random memories; or pass `memories`."
            )
        if not (isinstance(num_memories, int) and num_memories > 0):
            raise ValueError(
                "make_dense_am expected `num_memories` to be a positive int, got "
                f"{num_memories!r}."
            )
        memories = jr.rademacher(key, (num_memories, dim), jnp.int8)
    mem = _as_patterns(memories, "make_dense_am", "memories", dtype, False)
    if dim is not None and mem.shape[1] != dim:
        raise ValueError(
            f"make_dense_am got `dim`={dim} but memories of dimension "
            f"{mem.shape[1]} (shape {mem.shape}); drop `dim` or make them agree."
        )
    stored = mem.T[:, None, :].astype(memory_dtype or mem.dtype)
    syn = DenseHiddenSynapse(
        mem.shape[0], separation, Ws=(stored,), memory_chunk=memory_chunk
    )
    layer = NeuronLayer(Tanh(beta=visible_beta), mem.shape[1])
    synapses: dict[str, Any] = {"memories": syn}
    connections: list = [(("x",), "memories")]
    c = _self_coupling(mem, separation) if remove_self_coupling else 0.0
    if c > 0:
        n = mem.shape[1]
        synapses["self"] = DenseSynapse(W=-0.5 * c * jnp.eye(n, dtype=mem.dtype))
        connections.append((("x", "x"), "self"))
    return HAM({"x": layer}, synapses, connections, dtype=mem.dtype)


def _self_coupling(mem: Array, separation, samples: int = 8, bits: int = 32) -> float:
    r"""The mean self-excitation $c$ a neuron gets through the memories.

    The drive $x_i = \sum_\mu \xi_{\mu i} f_\mu(\Xi g)$ counts neuron $i$'s own
    state in every overlap: for a convex separation this pushes each neuron
    towards its current sign by about $c\,g_i$ with
    $c = \langle (x_i(g) - x_i(g - g_i e_i)) / g_i\rangle$ (Krotov & Hopfield's
    update rule leaves neuron $i$ out of the overlaps for this reason). It is
    measured at stored patterns, on a few patterns and neurons.
    """
    if isinstance(mem, jax.core.Tracer):
        return 0.0
    P, n = mem.shape
    pats = mem[jnp.linspace(0, P - 1, min(samples, P)).astype(int)]
    idx = jnp.linspace(0, n - 1, min(bits, n)).astype(int)
    grad = jax.grad(lambda h: separation(h[None, :]))
    own = mem[:, idx]  # (P, bits): each memory's entry at the sampled neurons

    def one(pat):
        h = mem @ pat  # (P,) overlaps at a stored pattern
        s = pat[idx]
        base = own.T @ grad(h)
        # Overlaps without neuron i, h - xi_{mu i} s_i, one bit at a time (memory
        # stays O(P) for huge P).
        left = jax.lax.map(
            lambda b: own[:, b] @ grad(h - s[b] * own[:, b]), jnp.arange(len(idx))
        )
        ok = s != 0
        return jnp.where(ok, (base - left) / jnp.where(ok, s, 1), 0), ok, jnp.abs(base)

    diffs, ok, signal = jax.lax.map(one, pats)
    c = float(jnp.sum(diffs)) / max(int(jnp.sum(ok)), 1)
    return c if np.isfinite(c) and c > 1e-3 * float(jnp.mean(signal)) else 0.0


# Zoo builders end alike, `*, <hyperparameters>, key, dtype=None) -> HAM` (STYLE 3.3).
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
