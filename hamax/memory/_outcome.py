"""What a recall found: one memory, a mixture of memories, or nothing clear."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from .._ham import HAM
from ..dynamics._solution import RESULTS, Solution
from ..synapses import DenseHiddenSynapse, EuclideanHiddenSynapse


OUTCOME_NAMES = ("fixed_point", "metastable", "diffuse")


class RecallOutcome(eqx.Module):
    """Per query, what a recall ended on (from [`hamax.memory.outcomes`][]).
    Every field has the batch shape of the states (`()` for one query).

    **Fields:**

    - `converged`: whether the descent ended successfully (`None` when only
      states were given).
    - `num_steps`: the steps the descent took (`None` when only states were
      given).
    - `energy`: the total energy of the final states.
    - `nearest`: the stored memory closest in angle to the final activations of
      `layer`, an index into the synapse's memories.
    - `similarity`: the cosine of those activations with that memory.
    - `top_weight`: the largest share of one memory in the hidden layer's
      activations (the separation weights), in `[0, 1]`.
    - `effective_memories`: the participation ratio $1 / \\sum_\\mu p_\\mu^2$ of
      those shares: 1 for one memory, the number of memories for a uniform mix.
    - `label`: 0, 1 or 2 for `fixed_point`, `metastable`, `diffuse`; `names`
      gives the words.
    """

    converged: Bool[Array, "*batch"] | None
    num_steps: Int[Array, "*batch"] | None
    energy: Float[Array, "*batch"]
    nearest: Int[Array, "*batch"]
    similarity: Float[Array, "*batch"]
    top_weight: Float[Array, "*batch"]
    effective_memories: Float[Array, "*batch"]
    label: Int[Array, "*batch"]

    @property
    def names(self) -> np.ndarray:
        """The outcome of each query as a word: `"fixed_point"`, `"metastable"`
        or `"diffuse"` (a NumPy array of strings, the batch shape)."""
        return np.asarray(np.asarray(OUTCOME_NAMES)[np.asarray(self.label)])


def readable_synapse(ham: HAM, synapse: str | None):
    """The connection `(names, s)` of the synapse whose memories are read."""
    kinds = (DenseHiddenSynapse, EuclideanHiddenSynapse)
    found = [
        (names, s)
        for names, s in ham.connections
        if isinstance(ham.synapses[s], kinds)
        and not getattr(ham.synapses[s], "per_token", False)
        and (synapse is None or s == synapse)
    ]
    if len(found) != 1:
        what = "" if synapse is None else f" named {synapse!r}"
        have = [s for _, s in ham.connections] or ["none"]
        raise ValueError(
            f"outcomes needs exactly one DenseHiddenSynapse or EuclideanHiddenSynapse"
            f"{what} (not per_token) whose memories it can read, found {len(found)} "
            f"(synapses connected: {', '.join(map(repr, have))}); pass synapse= the "
            "name of one. A HAM without such a synapse (e.g. a classical Hopfield "
            "network) has no readable memories."
        )
    return found[0]


def _memory_rows(syn, index: int) -> Array:
    # The memories' part in connected layer `index`, one row per memory.
    rows = syn.memories()[index]
    return rows.reshape(-1, rows.shape[-1])


def _check_fraction(name: str, value: Any, low_open: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not (0 < v <= 1 if low_open else 0 <= v <= 1):
        raise ValueError(
            f"outcomes expected `{name}` to be a number in "
            f"{'(0, 1]' if low_open else '[0, 1]'}, got {value!r}."
        )
    return v


def outcomes(
    ham: HAM,
    solution: Solution | dict[str, Array],
    *,
    layer: str | None = None,
    synapse: str | None = None,
    dominance: float = 0.9,
    spread: float = 0.5,
) -> RecallOutcome:
    r"""Say what each recall ended on: one stored memory, a mixture, or nothing.

    The memories are those of a [`hamax.synapses.DenseHiddenSynapse`][] (or
    [`hamax.synapses.EuclideanHiddenSynapse`][]): at the final states its hidden
    layer gives each memory $\mu$ a weight $f_\mu = \partial L_h / \partial
    h_\mu$ (for `Softmax`, the attention on memory $\mu$), whose non-negative
    part is normalised to shares $p_\mu$. With $P$ memories, the outcome is

    - `fixed_point` when one memory dominates: $\max_\mu p_\mu \ge$ `dominance`;
    - else `diffuse` when nothing is selected: no weight is positive, or the
      effective number of memories $1/\sum_\mu p_\mu^2$ exceeds `spread` $\cdot P$
      (the global average of modern Hopfield networks, Ramsauer et al. 2021);
    - `metastable` otherwise: a mixture of a few memories.

    The nearest memory is the one whose part in `layer` has the largest cosine
    with that layer's activations; it usually is the dominant one.

    **Arguments:**

    - `solution`: a [`hamax.Solution`][] (from `hamax.descend` or
      `hamax.retrieve`, batched with `jax.vmap` or not), or its final states.
    - `layer`: the layer compared with the memories; default the first layer
      the synapse connects.
    - `synapse`: the synapse whose memories are read; default the only one.
    - `dominance`: the share of one memory that makes a fixed point, in `(0, 1]`.
    - `spread`: the fraction of all memories above which a mixture is diffuse,
      in `(0, 1]`.

    **Returns:** a [`hamax.memory.RecallOutcome`][], one entry per query.

    !!! example

        ```python
        sol = jax.vmap(lambda q: hamax.descend(ham, {"x": q}, dt=1.0, steps=5))(qs)
        out = hamax.memory.outcomes(ham, sol)
        out.names, out.nearest, out.similarity
        ```
    """
    dominance = _check_fraction("dominance", dominance, True)
    spread = _check_fraction("spread", spread, True)
    names, s = readable_synapse(ham, synapse)
    if layer is None:
        layer = names[0]
    if layer not in names:
        raise ValueError(
            f"outcomes got layer={layer!r}, which synapse {s!r} does not connect "
            f"(it connects {', '.join(map(repr, names))})."
        )
    if isinstance(solution, Solution):
        # Not `solution.converged`: that property is typed for one descent.
        states, converged = solution.states, solution.result == RESULTS.successful
        steps = solution.num_steps
    else:
        states, converged, steps = solution, None, None
    missing = [n for n in ham.neurons if n not in states]
    if missing:
        raise ValueError(
            f"outcomes got states without layer(s) {', '.join(map(repr, missing))}; "
            "pass every layer's final state (solution.states)."
        )
    shape = ham.neurons[layer].shape
    x = jnp.asarray(states[layer])
    if x.shape[x.ndim - len(shape) :] != shape:
        raise ValueError(
            f"outcomes expected states[{layer!r}] of shape {shape} (or a batch of "
            f"them), got {x.shape}."
        )
    batch = x.shape[: x.ndim - len(shape)]
    flat = {
        n: jnp.asarray(v).reshape(-1, *ham.neurons[n].shape) for n, v in states.items()
    }
    syn: Any = ham.synapses[s]
    mems = _memory_rows(syn, names.index(layer))

    def one(xs):
        gs = ham.activations(xs)
        h = syn.hidden(*(gs[n] for n in names))
        w = jnp.maximum(jax.grad(lambda h: syn.lagrangian(h))(h).reshape(-1), 0)
        total = jnp.sum(w)
        ok = (total > 0) & jnp.isfinite(total)
        p = w / jnp.where(ok, total, 1)
        top = jnp.where(ok, jnp.max(p), 0)
        n_eff = jnp.where(ok, 1 / jnp.sum(p * p), jnp.inf)
        mixed = jnp.where(n_eff > spread * p.size, 2, 1)
        label = jnp.where(~ok, 2, jnp.where(top >= dominance, 0, mixed))
        g = gs[layer].reshape(-1)
        norms = jnp.linalg.norm(mems, axis=1) * jnp.linalg.norm(g)
        cos = jnp.where(norms > 0, mems @ g / jnp.where(norms > 0, norms, 1), 0)
        return ham.energy(xs), jnp.argmax(cos), jnp.max(cos), top, n_eff, label

    E, near, sim, top, n_eff, label = jax.vmap(one)(flat)
    r = lambda a: a.reshape(batch)
    return RecallOutcome(
        converged=None if converged is None else jnp.asarray(converged).reshape(batch),
        num_steps=None if steps is None else jnp.asarray(steps).reshape(batch),
        energy=r(E),
        nearest=r(near),
        similarity=r(sim),
        top_weight=r(top),
        effective_memories=r(n_eff),
        label=r(label).astype(jnp.int32),
    )
