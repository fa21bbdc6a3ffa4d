"""Checks of the values and masks given to `HAM.clamp`."""

from typing import Any

import jax.numpy as jnp


def check_value(ham, name: str, value: Any) -> None:
    shape = tuple(jnp.shape(value))
    want = ham.neurons[name].shape
    if shape != want:
        hint = (
            " It acts on one example; batch with jax.vmap." if shape[1:] == want else ""
        )
        raise ValueError(
            f"clamp expected the value of layer {name!r} to have shape {want}, got "
            f"{shape}.{hint}"
        )
    dtype = jnp.result_type(value)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"clamp expected a floating-point value for layer {name!r}, got dtype "
            f"{dtype}. Convert it, e.g. x.astype(jnp.float32)."
        )


def as_mask(
    ham,
    name: str,
    mask: Any,
    where: str = "clamp",
    arg: str = "masks",
    kind: str = "a boolean array",
):
    """`mask` checked (boolean, broadcastable to the layer) and broadcast; the
    messages name `where` and `arg[name]`."""
    shape = ham.neurons[name].shape
    if mask is True:
        raise ValueError(
            f"clamp got mask True for {name!r}: a wholly clamped layer needs no mask; "
            "leave it out of `masks`."
        )
    mask = jnp.asarray(mask)
    if mask.dtype != jnp.bool_:
        raise ValueError(
            f"{where} expected {arg}[{name!r}] to be {kind}, got dtype "
            f"{mask.dtype}. True marks elements held fixed."
        )
    try:
        jnp.broadcast_shapes(mask.shape, shape)
    except ValueError:
        raise ValueError(
            f"{where} expected {arg}[{name!r}] broadcastable to the layer shape "
            f"{shape}, got mask.shape={mask.shape}."
        ) from None
    return jnp.broadcast_to(mask, shape)
