"""The hidden Lagrangian of a Dense Associative Memory, streamed over its memories.

`DenseHiddenSynapse(memory_chunk=c)` never forms the whole hidden drive
$h = \\sum_i W_i g_i$ (one entry per memory): it computes $h$ for `c` memories
at a time and combines one small partial result per chunk. Which partial, and
how chunks combine, depends on the Lagrangian:

- *separable* ones, $L(h) = \\sum_m \\ell(h_m)$ (ReLU, RePU, exp, tanh, ...):
  the partial is $L$ of the chunk, and chunks add;
- *log-sum-exp* ones (`Softmax` along the memory axis, `Ghostmax`): the partial
  is the chunk's log-sum-exp, and chunks combine by a log-sum-exp of the
  partials (with the ghost's zero logit for `Ghostmax`), the streaming softmax.

Each chunk runs under `jax.checkpoint` inside `lax.map`, so reverse-mode
differentiation recomputes a chunk's drive instead of storing it: the forward
pass and the gradient both hold one `(chunk,)` drive per example at a time.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array

from .._custom_types import Scalar
from ..lagrangians import (
    Exp,
    Ghostmax,
    Identity,
    ReLU,
    RePU,
    RExp,
    Sigmoid,
    Softmax,
    Tanh,
)


# Lagrangians that are a sum of one function per element: chunks of the memory
# axis contribute independent terms.
_SEPARABLE = (Exp, Identity, ReLU, RePU, RExp, Sigmoid, Tanh)
_LOGSUMEXP = (Softmax, Ghostmax)


def check_streamable(lagrangian: Any, owner: str) -> None:
    """Raise `ValueError` unless `lagrangian` can be streamed over the memories."""
    if isinstance(lagrangian, _SEPARABLE + _LOGSUMEXP):
        return
    names = ", ".join(c.__name__ for c in _SEPARABLE + _LOGSUMEXP)
    raise ValueError(
        f"{owner} got `memory_chunk` with the hidden Lagrangian "
        f"{type(lagrangian).__name__} ({lagrangian!r:.80}), which cannot be "
        "computed chunk by chunk over the memories: its value is not a sum or a "
        f"log-sum-exp of per-memory terms. Chunking supports {names}; use one of "
        "them, or drop `memory_chunk`."
    )


def _reduced_axes(lagrangian, ndim: int) -> tuple[int, ...] | None:
    # The axes a log-sum-exp Lagrangian reduces over a drive of `ndim` axes, when
    # they include the memory (last) axis; None when it reduces along other axes
    # only, which leaves it separable over the memories.
    axis = lagrangian.axis
    axes = tuple(range(ndim)) if axis is None else axis
    axes = tuple(a % ndim for a in (axes if isinstance(axes, tuple) else (axes,)))
    return axes if ndim - 1 in axes else None


def streamed_lagrangian(
    lagrangian: Callable[[Array], Scalar],
    drive: Callable[[Any, int], Array],
    num_hidden: int,
    chunk: int,
) -> Scalar:
    """$L(h)$ for the drive `h` of `num_hidden` memories, `chunk` at a time.

    `drive(start, size)` returns the drive of memories `start .. start + size`
    (the last axis), with `start` possibly traced and `size` static.
    """
    full, rest = divmod(num_hidden, chunk)
    probe = jax.eval_shape(lambda: drive(0, min(chunk, num_hidden)))
    axes = (
        _reduced_axes(lagrangian, probe.ndim)
        if isinstance(lagrangian, _LOGSUMEXP)
        else None
    )

    # The bounded value of a learnable beta (hamax.learnable), as __call__ uses.
    beta = lagrangian.resolved().beta if axes is not None else None  # type: ignore[attr-defined]

    def part(h):
        if axes is None:
            return lagrangian(h)
        return jax.nn.logsumexp(beta * h, axis=axes)

    parts = []
    if full:
        # Remat: the backward pass recomputes each chunk's drive from `start`.
        body = jax.checkpoint(lambda i: part(drive(i * chunk, chunk)))
        parts.append(lax.map(body, jnp.arange(full)))
    if rest:
        parts.append(part(drive(full * chunk, rest))[None])
    stacked = jnp.concatenate(parts) if len(parts) > 1 else parts[0]
    if axes is None:
        return jnp.sum(stacked)
    total = jax.nn.logsumexp(stacked, axis=0)
    if isinstance(lagrangian, Ghostmax):
        total = jnp.logaddexp(jnp.zeros_like(total), total)  # the ghost logit 0
    assert beta is not None  # axes is not None: a softmax-like Lagrangian
    return jnp.sum(total) / beta


def memory_slice(W: Array, start: Any, size: int) -> Array:
    """Memories `start .. start + size` of a `(d, heads, hidden)` array."""
    if isinstance(start, int):
        return W[..., start : start + size]
    return lax.dynamic_slice_in_dim(W, start, size, axis=W.ndim - 1)
