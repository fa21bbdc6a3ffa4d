"""Recall from a cue: clamp part of a pattern, descend, read the rest (the
zoo's `recall`, also `hamax.memory.recall`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._ham import HAM
from .._misc import suggest
from ..dynamics._descend import descend


def recall(
    ham: HAM,
    cue: Float[Array | np.ndarray, "..."],
    *,
    dt: float = 0.5,
    steps: int = 40,
    layer: str = "x",
) -> Float[Array, "*batch n"]:
    r"""Retrieve the stored pattern nearest to `cue` from an associative memory.

    Starts `layer` at the cue ($x_0$ = `cue`, other layers at zero), runs
    [`hamax.descend`][] for `steps` steps of `dt`, and returns the activations
    $g$ of `layer`: for the zoo's memories ([`hamax.zoo.make_classical_hopfield`][],
    [`hamax.zoo.make_dense_am`][]) at their defaults these are the stored ±1
    pattern itself. The defaults are the dynamics those factories are built
    for; the capacity benchmark (`benchmarks/capacity.py`) measures them.

    **Arguments:**

    - `ham`: the memory.
    - `cue`: one query of the layer's shape, or a batch of them (leading axes).
    - `dt`, `steps`: the descent step and number of steps.
    - `layer`: the layer the cue is given to and read from.

    **Returns:** the activations of `layer`, shaped like `cue`.
    """
    if layer not in ham.neurons:
        raise ValueError(
            f"recall got layer={layer!r}, which is not a neuron layer (have: "
            f"{', '.join(map(repr, ham.neurons))})." + suggest(layer, ham.neurons)
        )
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"recall expected `steps` to be an int >= 0, got {steps!r}.")
    if not dt > 0:
        raise ValueError(f"recall expected `dt` > 0, got dt={dt!r}.")
    shape = ham.neurons[layer].shape
    cue = jnp.asarray(cue)
    if not jnp.issubdtype(cue.dtype, jnp.floating):
        cue = cue.astype(jnp.result_type(float))
    if cue.shape[cue.ndim - len(shape) :] != shape:
        raise ValueError(
            f"recall expected `cue` of shape {shape} (or a batch of them, "
            f"(batch, *{shape})) for layer {layer!r}, got {cue.shape}."
        )
    batch = cue.shape[: cue.ndim - len(shape)]
    flat = _recall(
        ham, cue.reshape(-1, *shape), jnp.asarray(dt, cue.dtype), steps, layer
    )
    return flat.reshape(*batch, *shape)


@eqx.filter_jit
def _recall(ham: HAM, cues: Array, dt: Array, steps: int, layer: str) -> Array:
    # One compiled, batched descent per memory structure and cue shape.
    def one(c):
        x0 = ham.init_states(dtype=c.dtype)
        x0[layer] = c
        sol = descend(ham, x0, dt=dt, steps=steps)
        return ham.neurons[layer].activation(sol.states[layer])

    return jax.vmap(one)(cues)
