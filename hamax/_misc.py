"""Small private helpers used by several modules."""

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import jax.numpy as jnp
import jax.tree_util as jtu


def as_shape(shape: Any, owner: str, arg: str) -> tuple[int, ...]:
    """Normalise an int or a sequence of ints to a tuple of positive ints."""
    if isinstance(shape, int):
        shape = (shape,)
    try:
        if isinstance(shape, str):
            raise TypeError
        out = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner} expected `{arg}` to be an int or a tuple of ints, got "
            f"{shape!r}. Write for example `{arg}=(28, 28, 1)`."
        ) from None
    if any(s <= 0 for s in out) or any(int(s) != s for s in shape):
        raise ValueError(
            f"{owner} expected `{arg}` to hold positive integers, got {shape!r}."
        )
    return out


def check_shape(owner: str, expected: Sequence[tuple[int, ...]], *arrays) -> None:
    """Raise a ValueError naming `owner` when `arrays` do not have `expected` shapes.

    This runs at trace time: shapes are static.
    """
    got = tuple(tuple(jnp.shape(a)) for a in arrays)
    expected = tuple(tuple(e) for e in expected)
    if got != expected:
        names = " and ".join(f"g{i + 1}.shape={s}" for i, s in enumerate(got))
        want = " and ".join(str(e) for e in expected)
        raise ValueError(
            f"{owner} expected activations of shapes {want}, got {names}. hamax "
            "functions act on one example; batch with jax.vmap, e.g. "
            "jax.vmap(ham.energy)(xs)."
        )


def suggest(name: str, options: Iterable[str]) -> str:
    """Return ' Did you mean ...?' when `name` is close to one of `options`."""
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def tree_sum(tree) -> jnp.ndarray:
    """Sum of all leaves of a pytree of scalars."""
    leaves = jtu.tree_leaves(tree)
    if not leaves:
        return jnp.asarray(0.0)  # weakly typed: adopts the dtype it is added to
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    return total
