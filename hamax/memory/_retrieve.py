import math
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

from .._ham import HAM
from .._misc import suggest
from ..dynamics._descend import descend
from ..dynamics._solution import Solution
from ..lagrangians._learnable import resolve


def _check_layer(ham: HAM, name: str, where: str) -> None:
    if name not in ham.neurons:
        raise ValueError(
            f"retrieve got {where} for layer {name!r}, which is not a neuron layer "
            f"(have: {', '.join(map(repr, ham.neurons))})." + suggest(name, ham.neurons)
        )


def _one_state(ham: HAM, x0, arg: str, name: str, value) -> Array:
    """`value` in the dtype of `x0[name]`, checked to be one state of layer `name`
    (`arg` names the argument it came from in the error)."""
    value = jnp.asarray(value, x0[name].dtype)
    if value.shape != ham.neurons[name].shape:
        raise ValueError(
            f"retrieve expected {arg}[{name!r}] of shape "
            f"{ham.neurons[name].shape}, got {value.shape}. It acts on one "
            "example; batch with jax.vmap."
        )
    return value


def _check_scale(name: str, value: Any, *, positive: bool) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or (v <= 0 if positive else v < 0):
        want = "a finite number > 0" if positive else "a finite number >= 0"
        raise ValueError(
            f"retrieve expected `{name}` to be {want}, got {value!r}. "
            + (
                "It multiplies the inverse temperature beta of the hidden "
                "Lagrangians (the paper uses 10); pass e.g. beta_scale=10.0."
                if name == "beta_scale"
                else f"Pass e.g. {name}=1.0."
            )
        )
    return v


def temperature_params(ham: HAM) -> list[str]:
    """Names of the synapses whose energy has an inverse temperature `beta`: a
    hidden Lagrangian with a `beta` (softmax, exp, ...) or a `beta` of their own
    (attention)."""
    names = []
    for name, syn in ham.synapses.items():
        lag = getattr(syn, "lagrangian", None)
        if getattr(lag, "beta", None) is not None or getattr(syn, "beta", None):
            names.append(name)
    return names


def _where_beta(name: str):
    # The `beta` of synapse `name`: its hidden Lagrangian's, else its own.
    def where(h: HAM) -> Any:
        syn: Any = h.synapses[name]
        lag: Any = getattr(syn, "lagrangian", None)
        return lag.beta if getattr(lag, "beta", None) is not None else syn.beta

    return where


def scale_temperature(ham: HAM, beta_scale: float) -> HAM:
    """`ham` with the inverse temperature `beta` of every synapse's hidden
    Lagrangian (and of attention synapses) multiplied by `beta_scale`: the
    paper's "decrease the temperature of the Softmax in our hidden layer by a
    factor of 10" is `beta_scale=10`. Neuron layers are unchanged."""
    scale = _check_scale("beta_scale", beta_scale, positive=True)
    names = temperature_params(ham)
    if scale != 1.0 and not names:
        raise ValueError(
            f"retrieve got beta_scale={beta_scale!r}, but no synapse of this HAM has "
            "a temperature (a hidden Lagrangian with `beta`, e.g. Softmax; ReLU has "
            f"none; synapses: {', '.join(map(repr, ham.synapses))}). Pass "
            "beta_scale=1.0."
        )
    for name in names:
        # A learnable beta becomes its bounded value, scaled (retrieval does not
        # train it).
        beta = resolve(_where_beta(name)(ham))
        ham = eqx.tree_at(_where_beta(name), ham, beta * scale)
    return ham


# Over 80 lines: most of it is the docstring (the paper's knobs, one by one).
def retrieve(
    ham: HAM,
    known: Mapping[str, Array],
    *,
    masks: Mapping[str, Array] | None = None,
    init: Mapping[str, Array] | None = None,
    noise: float = 0.0,
    beta_scale: float = 1.0,
    clamp_scale: float = 1.0,
    key: PRNGKeyArray | None = None,
    **descend_kwargs: Any,
) -> Solution:
    """Complete a partially observed pattern by descending with the known part
    clamped. Works in any direction: clamp an image to read a label
    (classification), or clamp a label and start the image from noise to recall
    what the network stores for it (the paper's Figure 2, with `noise=0.1`,
    `beta_scale=10.0`, `dt=0.4`, `steps=15`; see
    [`hamax.memory.recall_labels`][] for the whole recipe).

    **Arguments:**

    - `known`: layer name -> state. Those layers are clamped, wholly or, when
      `masks[name]` is given, only where the mask is True (the rest of that layer
      starts from `init` or noise and is completed).
    - `masks`: optional boolean masks (True = observed) for layers in `known`.
    - `init`: optional layer name -> initial state of the unknown layers (or of
      the unobserved part of a masked layer); it replaces the noise there.
    - `noise`: standard deviation of the initial state of unknown parts (needs
      `key` when nonzero); zero starts them at 0.
    - `beta_scale`: multiplies the inverse temperature of every hidden
      Lagrangian with a `beta` (in synapses). Above one it sharpens the
      competition between memories, so the dynamics settle on one memory instead
      of a superposition (the paper's Appendix B lowers the temperature 10x).
    - `clamp_scale`: multiplies the clamped values (their amplitude).
    - `key`: a JAX PRNG key for the noise.
    - `descend_kwargs`: passed to [`hamax.descend`][] (`dt`, `steps` or `stop`, ...).

    **Returns:** the [`hamax.Solution`][]; read `solution.states`.
    """
    masks = dict(masks or {})
    init = dict(init or {})
    for name in known:
        _check_layer(ham, name, "a known state")
    for name in masks:
        _check_layer(ham, name, "a mask")
        if name not in known:
            raise ValueError(
                f"retrieve got a mask for {name!r} but no known state for it; add "
                f"known[{name!r}]."
            )
    for name in init:
        _check_layer(ham, name, "an initial state")
        if name in known and name not in masks:
            raise ValueError(
                f"retrieve got an initial state for {name!r}, which is clamped to "
                f"known[{name!r}]; drop init[{name!r}] or pass masks[{name!r}]."
            )
    noise = _check_scale("noise", noise, positive=False)
    if noise > 0 and key is None:
        raise ValueError(
            f"retrieve got noise={noise!r} without a `key`; pass key=jax.random.key(0) "
            "or noise=0.0."
        )
    amp = _check_scale("clamp_scale", clamp_scale, positive=False)
    ham = scale_temperature(ham, beta_scale)
    values = [*known.values(), *init.values()]
    dtype = jnp.result_type(*values) if values else None
    x0 = ham.init_states(dtype=dtype, scale=noise, key=key if noise > 0 else None)
    for name, value in init.items():
        x0[name] = _one_state(ham, x0, "init", name, value)
    clamp: dict[str, Any] = {}
    for name, value in known.items():
        value = _one_state(ham, x0, "known", name, value)
        if amp != 1.0:
            value = value * jnp.asarray(amp, value.dtype)
        if name in masks:
            mask = jnp.broadcast_to(jnp.asarray(masks[name], bool), value.shape)
            x0[name] = jnp.where(mask, value, x0[name])
            clamp[name] = mask
        else:
            x0[name] = value
            clamp[name] = True
    return descend(ham, x0, clamp=clamp, **descend_kwargs)
