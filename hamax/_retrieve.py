from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from ._descend import descend
from ._ham import HAM
from ._misc import suggest
from ._solution import Solution


def retrieve(
    ham: HAM,
    known: Mapping[str, Array],
    *,
    masks: Mapping[str, Array] | None = None,
    noise: float = 0.0,
    key: PRNGKeyArray | None = None,
    **descend_kwargs: Any,
) -> Solution:
    """Complete a partially observed pattern by descending with the known part
    clamped. Works in any direction: clamp an image to read a label
    (classification), or clamp a label and start the image from noise to recall
    what the network stores for it (the paper's Figure 2).

    **Arguments:**

    - `known`: layer name -> state. Those layers are clamped, wholly or, when
      `masks[name]` is given, only where the mask is True (the rest of that layer
      starts from noise and is completed).
    - `masks`: optional boolean masks (True = observed) for layers in `known`.
    - `noise`: standard deviation of the initial state of unknown parts (needs
      `key` when nonzero); zero starts them at 0.
    - `descend_kwargs`: passed to [`hamax.descend`][] (`dt`, `steps` or `stop`, ...).

    **Returns:** the [`hamax.Solution`][]; read `solution.states`.
    """
    masks = dict(masks or {})
    for name in [*known, *masks]:
        if name not in ham.neurons:
            raise ValueError(
                f"retrieve got layer {name!r}, which is not a neuron layer (have: "
                f"{', '.join(map(repr, ham.neurons))})." + suggest(name, ham.neurons)
            )
    for name in masks:
        if name not in known:
            raise ValueError(
                f"retrieve got a mask for {name!r} but no known state for it; add "
                f"known[{name!r}]."
            )
    dtype = jnp.result_type(*known.values()) if known else None
    x0 = ham.init_states(dtype=dtype, scale=noise, key=key)
    clamp: dict[str, Any] = {}
    for name, value in known.items():
        value = jnp.asarray(value, x0[name].dtype)
        if value.shape != ham.neurons[name].shape:
            raise ValueError(
                f"retrieve expected known[{name!r}] of shape "
                f"{ham.neurons[name].shape}, got {value.shape}. It acts on one "
                "example; batch with jax.vmap."
            )
        if name in masks:
            mask = jnp.broadcast_to(jnp.asarray(masks[name], bool), value.shape)
            x0[name] = jnp.where(mask, value, x0[name])
            clamp[name] = mask
        else:
            x0[name] = value
            clamp[name] = True
    return descend(ham, x0, clamp=clamp, **descend_kwargs)
