import dataclasses
import math
import warnings
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from .._ham import HAM
from ..dynamics import BPTT, Implicit, Remat
from ..dynamics._guard import FELL_BACK, UNHANDLED, count_implicit_failures, new_probe
from ._objectives import AbstractObjective, Classification


def adamw(
    learning_rate: float | optax.Schedule = 1e-3,
    *,
    b1: float = 0.9,
    b2: float = 0.99,
    weight_decay: float = 1e-4,
) -> optax.GradientTransformation:
    """The paper's optimiser (Appendix A): AdamW(1e-3, b1=0.9, b2=0.99, wd=1e-4);
    `learning_rate` may be an optax schedule.

    With a constant rate it carries its settings, which
    [`hamax.training.train`][] records for a resume to compare."""
    if not callable(learning_rate) and not (
        isinstance(learning_rate, int | float)
        and math.isfinite(learning_rate)
        and learning_rate > 0
    ):
        raise ValueError(
            "adamw expected `learning_rate` to be a finite number > 0 or an optax "
            f"schedule, got {learning_rate!r}."
        )
    tx = optax.adamw(learning_rate, b1=b1, b2=b2, weight_decay=weight_decay)
    if callable(learning_rate) or (b1, b2) != (0.9, 0.99):
        return tx
    out = _AdamW(tx.init, tx.update)
    out.hamax_settings = {"learning_rate": learning_rate, "weight_decay": weight_decay}
    return out


class _AdamW(optax.GradientTransformationExtraArgs):
    """`optax.adamw` that knows its learning rate and weight decay (an instance
    attribute: the tuple and its fields are optax's)."""


def init_opt_state(ham: Any, optim: optax.GradientTransformation):
    """The optimiser state for the trainable arrays of `ham`."""
    return optim.init(eqx.filter(ham, eqx.is_inexact_array))


@eqx.filter_jit
def make_step(
    ham: Any,
    opt_state,
    batch: Any,
    labels: Int[Array, " n"] | None = None,
    *,
    objective: AbstractObjective | None = None,
    optim: optax.GradientTransformation,
    key=None,
    **deprecated: Any,
):
    """One jitted training step: the gradient of `objective.loss` on `batch`
    (backprop through the descent), then an `optim` update.

    **Arguments:**

    - `ham`: the model (any pytree the objective accepts: a [`hamax.HAM`][] or a
      compat HAM).
    - `opt_state`: from [`hamax.training.init_opt_state`][].
    - `batch`: dict of arrays with a leading batch axis, as the objective reads.
    - `objective`: an [`hamax.training.AbstractObjective`][].
    - `optim`: an optax optimiser.
    - `key`: optional PRNG key passed to the objective.

    Returns `(ham, opt_state, loss, metrics)`. The loss is NaN when it, or any
    updated parameter, is not finite. With a [`hamax.Implicit`][] adjoint the
    metrics add `implicit_failures` (examples whose linear solve failed with no
    fallback: the loss is then NaN too) and `implicit_fallbacks` (1 when any
    example fell back, else 0). Compiles once per model structure, batch
    shape and objective.

    The old form `make_step(ham, opt_state, images, labels, optim=, steps=, dt=,
    ...)` (classification only) still works with a `DeprecationWarning` and
    returns `(ham, opt_state, loss, accuracy)`.
    """
    old = objective is None
    if old:
        objective = _classification_from_kwargs("make_step", deprecated)
        batch = {objective.image: batch, objective.label: labels}

    obj: AbstractObjective = objective  # type: ignore[assignment]

    traced = []

    def loss_fn(hp):
        with count_implicit_failures(hp[1]) as counter:
            out = obj.loss(hp[0], batch, key=key)
        traced.append(counter.used)
        return out

    # The probe's gradient counts the implicit adjoint's failed solves
    # (hamax.dynamics._guard): a plain output, unlike an error or a callback.
    value_and_grad = eqx.filter_value_and_grad(loss_fn, has_aux=True)
    (loss, metrics), (grads, counts) = value_and_grad((ham, new_probe()))
    # optax mixes Python floats and int32 step counts, which strict dtype
    # promotion rejects; its arithmetic is standard-promotion by design.
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = optim.update(
            grads, opt_state, eqx.filter(ham, eqx.is_inexact_array)
        )
    ham = eqx.apply_updates(ham, updates)
    # Divergence shows up as non-finite parameters even when the loss is still
    # finite (descend keeps the last finite state); report both as a NaN loss.
    leaves = jax.tree_util.tree_leaves(eqx.filter(ham, eqx.is_inexact_array))
    finite = jnp.isfinite(loss) & jnp.all(
        jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves])
    )
    if any(traced):
        metrics = {
            **metrics,
            "implicit_failures": counts[UNHANDLED],
            "implicit_fallbacks": (counts[FELL_BACK] > 0).astype(counts.dtype),
        }
        # A failed solve without a fallback: the gradient is wrong, so the step
        # is refused like a divergence (and the trainer names the cause).
        finite = finite & (counts[UNHANDLED] == 0)
    loss = jnp.where(finite, loss, jnp.nan)
    if old:
        return ham, opt_state, loss, metrics["accuracy"]
    return ham, opt_state, loss, metrics


@eqx.filter_jit
def eval_step(
    ham: Any,
    batch: Any,
    labels: Int[Array, " n"] | None = None,
    *,
    objective: AbstractObjective | None = None,
    **deprecated: Any,
):
    """`objective.loss` on one batch, without gradients (jitted): `(loss,
    metrics)`.

    The old form `eval_step(ham, images, labels, steps=, dt=, ...)` still works
    with a `DeprecationWarning` and returns `(loss, number correct)`.
    """
    if objective is None:
        objective = _classification_from_kwargs("eval_step", deprecated)
        loss, m = objective.loss(ham, {objective.image: batch, objective.label: labels})
        n = jnp.shape(labels)[0]  # type: ignore[arg-type]
        return loss, jnp.round(m["accuracy"] * n).astype(jnp.int32)
    return objective.loss(ham, batch)


def forward(
    ham: HAM, images: Float[Array, "n ..."], **classification: Any
) -> Float[Array, "n ..."]:
    """Classification as association: the final states of the `label` layer
    after the descent with each image clamped (batched). A shorthand for
    `Classification(**classification).predict(ham, images)`: `classification` are
    [`hamax.training.Classification`][]'s fields, `steps` and `dt` required; the
    adjoint defaults to [`hamax.Remat`][]`()`."""
    return _shorthand("forward", classification).predict(ham, images)


def classification_loss(
    ham: HAM,
    images: Float[Array, "n ..."],
    labels: Int[Array, " n"],
    **classification: Any,
):
    """Cross-entropy of the label layer after the descent with the image clamped:
    `(loss, accuracy)`. A shorthand for `Classification(**classification).loss(...)`
    (the fields as for [`hamax.training.forward`][])."""
    obj = _shorthand("classification_loss", classification)
    loss, m = obj.loss(ham, {obj.image: images, obj.label: labels})
    return loss, m["accuracy"]


def _shorthand(where: str, kw: dict) -> Classification:
    """The Classification of a shorthand's keywords: its fields, split from the
    deprecated ones (`checkpoint=`), with `steps` and `dt` required."""
    missing = [k for k in ("steps", "dt") if k not in kw]
    if missing:
        raise TypeError(
            f"{where}() missing required keyword argument(s) "
            f"{', '.join(map(repr, missing))}; pass e.g. steps=4, dt=0.4."
        )
    fields = {f.name for f in dataclasses.fields(Classification)}
    deprecated = {k: v for k, v in kw.items() if k not in fields}
    given = {k: v for k, v in kw.items() if k in fields}
    return _classification_from_kwargs(where, given, deprecated)


def _classification_from_kwargs(
    where: str, kw: dict, deprecated: dict | None = None
) -> Classification:
    """The Classification objective of the old keyword form; warns when that form
    uses a deprecated argument (`checkpoint=`, a string adjoint), or always for
    `make_step`/`eval_step` (`deprecated=None`)."""
    warn = deprecated is None or bool(deprecated) or isinstance(kw.get("adjoint"), str)
    kw = {**kw, **(deprecated or {})}
    if warn:
        warnings.warn(
            f"{where}(..., steps=, dt=, image=, label=, checkpoint=, adjoint=) is "
            f"deprecated; pass objective=hamax.training.Classification(...).",
            DeprecationWarning,
            stacklevel=4,
        )
    checkpoint = kw.pop("checkpoint", True)
    adjoint = kw.pop("adjoint", None)
    if adjoint in (None, "bptt"):
        adjoint = Remat() if checkpoint else BPTT()
    elif adjoint == "implicit":
        adjoint = Implicit()
    allowed = {"steps", "dt", "image", "label", "stop"}
    unknown = set(kw) - allowed
    if unknown:
        raise TypeError(
            f"{where} got unexpected keyword argument(s) {sorted(unknown)}."
        )
    if kw.get("stop") is None:
        kw.pop("stop", None)
    return Classification(adjoint=adjoint, **kw)
