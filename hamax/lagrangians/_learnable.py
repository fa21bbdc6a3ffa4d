"""Trainable Lagrangian hyperparameters with a lower bound (the paper's code
trains every inverse temperature, clipped at `min_beta`)."""

import math
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import ScalarLike, TensorLike


# The paper's code (HAMUX v0.1, `lagrangians.py`) clips every beta at 1e-6.
MIN_BETA = 1e-6


class Learnable(eqx.Module):
    r"""A trainable hyperparameter of a Lagrangian, kept at or above `lower`.

    Build it with [`hamax.learnable`][]. `raw` is the array the optimiser
    updates; a Lagrangian reads [`value`][hamax.Learnable.value], which is
    `max(raw, lower)` with the gradient of the identity (a straight-through
    clip). So an optimiser step that overshoots cannot make the energy concave
    or undefined, and, unlike a plain clip, the gradient still reaches `raw`
    when it sits below the bound, so it can come back.

    **Fields:**

    - `raw`: the stored parameter (a floating-point JAX array, any shape the
      Lagrangian accepts; usually a scalar).
    - `lower`: the bound, a finite float, or `None` for an unbounded parameter.
    """

    raw: Float[Array, "..."]
    lower: float | None = eqx.field(static=True, default=MIN_BETA)

    def __check_init__(self):
        _check_lower(self.lower)
        if not isinstance(self.raw, jax.Array | np.ndarray) or not jnp.issubdtype(
            self.raw.dtype, jnp.floating
        ):
            raise TypeError(
                "Learnable.raw must be a floating-point array; build it with "
                f"hamax.learnable(value), got {type(self.raw).__name__}."
            )

    @property
    def value(self) -> Float[Array, "..."]:
        """The bounded value the Lagrangian uses: `max(raw, lower)`, whose
        gradient with respect to `raw` is the identity."""
        if self.lower is None:
            return self.raw
        clipped = jnp.maximum(self.raw, jnp.asarray(self.lower, self.raw.dtype))
        # Exactly `clipped` in value (raw - raw is exactly 0, where the form
        # raw + (clipped - raw) rounds: in float32 it turns -100 clipped at 1e-6
        # into 0), with the gradient of `raw`.
        return jax.lax.stop_gradient(clipped) + (
            self.raw - jax.lax.stop_gradient(self.raw)
        )


def _check_lower(lower: Any) -> None:
    if lower is not None and not (
        isinstance(lower, int | float)
        and not isinstance(lower, bool)
        and math.isfinite(lower)
    ):
        raise ValueError(
            f"hamax.learnable expected `lower` to be a finite number or None, got "
            f"{lower!r}."
        )


# A Lagrangian class's hyperparameter: a fixed number or array, or a Learnable.
# (For mypy an Any: a Lagrangian's `__call__` computes with the resolved value,
# an array, which the runtime type of the field cannot say.)
if TYPE_CHECKING:
    HyperScalar = Any
    HyperTensor = Any
else:
    HyperScalar = ScalarLike | Learnable
    HyperTensor = TensorLike | Learnable


def learnable(value: Any, *, lower: float | None = MIN_BETA, dtype=None) -> Learnable:
    r"""Mark a Lagrangian hyperparameter as trainable, e.g.
    `Softmax(beta=hamax.learnable(1.0))`.

    The parameter becomes a leaf that `jax.grad`, `eqx.filter_grad` and the
    trainer update, that [`hamax.to_spec`][] / [`hamax.from_spec`][] and
    checkpoints save and restore, and whose value the trainer reports per epoch
    (`learned.<path>` in the metrics; see [`hamax.learned_values`][]). A plain
    Python float stays fixed.

    **Arguments:**

    - `value`: the initial value (a number or an array).
    - `lower`: the smallest value the Lagrangian ever sees (default `1e-6`, the
      paper's `min_beta`); `None` for a parameter with no bound (e.g. a
      `LayerNorm` `delta`). The initial value must not be below it.
    - `dtype`: the array's dtype (default: JAX's default float).

    **Raises:** `ValueError` for a non-finite value, a value below `lower`, or a
    `lower` that is not a finite number.
    """
    if isinstance(value, Learnable):
        return value
    _check_lower(lower)
    if isinstance(value, bool) or isinstance(value, str):
        raise TypeError(f"hamax.learnable expected a number or array, got {value!r}.")
    raw = jnp.asarray(value, dtype=dtype)
    if not jnp.issubdtype(raw.dtype, jnp.floating):
        raw = raw.astype(jnp.result_type(float))
    a = np.asarray(raw, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"hamax.learnable expected a finite value, got {value!r}.")
    if lower is not None and (a < lower).any():
        raise ValueError(
            f"hamax.learnable got the value {value!r}, below its lower bound "
            f"{lower!r}; start at or above the bound (or pass a smaller `lower`)."
        )
    return Learnable(raw, lower)


def with_dtype(tree: Any, dtype) -> Any:
    """`tree` with every [`hamax.Learnable`][] built without a dtype (a weakly
    typed array) cast to `dtype` (JAX's default float if None): a HAM gives its
    own dtype to the learnables it holds, as it does to the parameters it
    infers."""
    dtype = jnp.zeros((), dtype).dtype

    def cast(x):
        if isinstance(x, Learnable) and getattr(x.raw, "weak_type", False):
            return Learnable(jnp.asarray(x.raw, dtype=dtype), x.lower)
        return x

    return jtu.tree_map(cast, tree, is_leaf=_is_learnable)


def _is_learnable(x: Any) -> bool:
    return isinstance(x, Learnable)


def resolve(tree: Any) -> Any:
    """`tree` with every [`hamax.Learnable`][] replaced by its bounded value
    (what a Lagrangian computes with)."""
    return jtu.tree_map(
        lambda x: x.value if isinstance(x, Learnable) else x,
        tree,
        is_leaf=_is_learnable,
    )


def learned_values(model: Any) -> dict[str, float]:
    """The bounded value of every scalar [`hamax.Learnable`][] in `model`, keyed
    by its path (e.g. `"synapses.memories.lagrangian.beta"`); the trainer
    writes them into each epoch's metrics as `learned.<path>`. A non-scalar
    learnable is reported by its mean, as `<path>.mean`."""
    leaves = jtu.tree_flatten_with_path(model, is_leaf=_is_learnable)[0]
    out: dict[str, float] = {}
    for path, leaf in leaves:
        if not isinstance(leaf, Learnable):
            continue
        name = _path_name(path)
        v = np.asarray(leaf.value, dtype=np.float64)
        if v.size == 1:
            out[name] = float(v.reshape(()))
        else:
            out[f"{name}.mean"] = float(v.mean())
    return out


def _path_name(path) -> str:
    parts = []
    for k in path:
        if isinstance(k, jtu.GetAttrKey):
            parts.append(k.name)
        elif isinstance(k, jtu.DictKey):
            parts.append(str(k.key))
        elif isinstance(k, jtu.SequenceKey):
            parts.append(str(k.idx))
        else:  # pragma: no cover - other key kinds carry their own str
            parts.append(str(k))
    return ".".join(parts)
