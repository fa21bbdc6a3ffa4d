"""The trainer's strategy objects besides the run directory: its limits, its
optimiser, and the upgrade of the keywords they replace (deprecated for one
release)."""

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import optax

from .._misc import suggest
from ._recipes import Recipe
from ._rundir import RunDir
from ._step import adamw


@dataclasses.dataclass(frozen=True)
class Limits:
    """How far one call of [`hamax.training.train`][] may go.

    **Fields:**

    - `time`: seconds of wall time the call may take, or None. An epoch starts
      only if, at the mean time of the call's epochs after its first (which
      compiles), it ends within the limit; the first epoch always runs. The run
      stops with a checkpoint and `TrainStatus.time_limit`; call again to
      continue (e.g. a job with a wall-clock allocation).
    - `batches`: cap on batches per epoch, or None (all of them).

    **Raises:** `ValueError` for a `time` that is not a finite number > 0 or a
    `batches` that is not an int >= 1.
    """

    time: float | int | None = None
    batches: int | None = None

    def __post_init__(self):
        t = self.time
        if t is not None and not (
            isinstance(t, int | float | np.floating)
            and not isinstance(t, bool)
            and math.isfinite(t)
            and t > 0
        ):
            raise ValueError(
                "Limits expected `time` (train's old `time_limit`) to be a number "
                f"of seconds > 0 or None, got {t!r}."
            )
        if t is not None:
            object.__setattr__(self, "time", float(t))
        b = self.batches
        if b is not None and (
            isinstance(b, bool) or not isinstance(b, int | np.integer) or b < 1
        ):
            raise ValueError(
                "Limits expected `batches` (train's old `max_batches`) to be an int "
                f">= 1 or None, got {b!r}."
            )


# The old keyword -> its new spelling (said in the DeprecationWarning).
_NEW = {
    "out_dir": "run=RunDir(out_dir)",
    "resume": "run=RunDir(out_dir, resume=...)",
    "force_resume": "run=RunDir(out_dir, force_resume=...)",
    "checkpoint_every": "run=RunDir(out_dir, checkpoint_every=...)",
    "meta": "run=RunDir(out_dir, meta=...)",
    "time_limit": "limits=Limits(time=...)",
    "max_batches": "limits=Limits(batches=...)",
    "optim_name": "optim=(transformation, name)",
    "learning_rate": "optim=hamax.training.adamw(learning_rate, weight_decay=...)",
    "weight_decay": "optim=hamax.training.adamw(learning_rate, weight_decay=...)",
}
_RUN_KEYS = ("out_dir", "resume", "force_resume", "checkpoint_every", "meta")


def upgrade(
    caller: str,
    old: dict[str, Any],
    run: Any,
    limits: Any,
    optim: Any,
    allowed: tuple[str, ...],
    *,
    stacklevel: int = 3,
) -> tuple[Any, Any, Any]:
    """Turn the deprecated keywords `old` of `caller` into its `run`, `limits`
    and `optim` (warning once, naming the new spellings).

    **Raises:** `TypeError` for a keyword `caller` does not take, or an old and
    a new spelling of the same thing given together.
    """
    for k in old:
        if k not in _NEW:
            raise TypeError(
                f"{caller}() got an unexpected keyword argument {k!r}."
                + suggest(k, (*allowed, *_NEW))
            )
    if not old:
        return run, limits, optim
    warnings.warn(
        f"{caller}: the keyword{'s' if len(old) > 1 else ''} "
        f"{', '.join(old)} {'are' if len(old) > 1 else 'is'} deprecated and will "
        "be removed in the next release; use "
        + "; ".join(f"{k} -> {_NEW[k]}" for k in old)
        + ".",
        DeprecationWarning,
        stacklevel=stacklevel,
    )
    given = [k for k in old if k in _RUN_KEYS]
    if given and run is not None:
        raise TypeError(
            f"{caller} got `run` and the old {', '.join(given)}; give the run "
            "directory once, as run=RunDir(path, ...)."
        )
    if given and old.get("out_dir") is not None:
        run = RunDir(
            old["out_dir"],
            resume=old.get("resume", True),
            force_resume=old.get("force_resume", False),
            checkpoint_every=old.get("checkpoint_every"),
            meta=old.get("meta"),
        )
    given = [k for k in old if k in ("time_limit", "max_batches")]
    if given and limits is not None:
        raise TypeError(
            f"{caller} got `limits` and the old {', '.join(given)}; give them "
            "once, as limits=Limits(time=..., batches=...)."
        )
    if given:
        limits = Limits(time=old.get("time_limit"), batches=old.get("max_batches"))
    if "learning_rate" in old or "weight_decay" in old:
        lr = old.get("learning_rate", 1e-3)
        if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
            raise ValueError(
                f"train expected `learning_rate` to be a finite number > 0, got {lr!r}."
            )
        wd = old.get("weight_decay", 1e-4)
        if optim is None:
            optim = adamw(lr, weight_decay=wd)
        else:  # as before: the rate is only recorded, `optim` is used
            optim = _Described(optim, {"learning_rate": lr, "weight_decay": wd})
    if "optim_name" in old and old["optim_name"] is not None:
        optim = (optim, old["optim_name"])
    return run, limits, optim


class _Described:
    """A given optimiser with the old `learning_rate` / `weight_decay` that the
    settings record keeps (the old spelling recorded them even when unused)."""

    def __init__(self, optim, record):
        self.optim, self.record = optim, record


def resolve_optim(
    optim: Any, steps_per_epoch: int, epochs: int
) -> tuple[optax.GradientTransformation, dict[str, Any]]:
    """The optax transformation `train` steps with, and what the settings record
    (and a resume compares) says about it: `learning_rate`, `weight_decay`,
    `optimizer`, as the trainer has always written them.

    **Raises:** `TypeError` for anything but None, a `Recipe`, an optax
    transformation or a `(transformation, name)` pair.
    """
    record: dict[str, Any] = {"learning_rate": 1e-3, "weight_decay": 1e-4}
    name = None
    if isinstance(optim, tuple) and not isinstance(optim, optax.GradientTransformation):
        if not (len(optim) == 2 and isinstance(optim[1], str)):
            raise TypeError(
                "train expected `optim` as a pair to be (optax transformation, "
                f"name), got {optim!r}."
            )
        optim, name = optim
    if isinstance(optim, _Described):
        record.update(optim.record)
        optim = optim.optim
    described = getattr(optim, "hamax_settings", None)
    if optim is None:
        tx: Any = adamw(record["learning_rate"], weight_decay=record["weight_decay"])
        name = name or "adamw"
    elif isinstance(optim, Recipe):
        tx = optim.optimizer(steps_per_epoch, epochs)
        name = name or optim.describe(epochs)
    elif isinstance(optim, optax.GradientTransformation):
        tx = optim
        if described is not None:
            record.update(described)
        name = name or ("adamw" if described is not None else type(optim).__name__)
    else:
        raise TypeError(
            "train expected `optim` to be an optax transformation (e.g. "
            "hamax.training.adamw(3e-3)), a hamax.training.Recipe, a "
            f"(transformation, name) pair or None, got {type(optim).__name__}."
        )
    if getattr(tx, "hamax_settings", None) is not None:
        # A plain optax tuple into the jitted step (the same functions).
        tx = optax.GradientTransformationExtraArgs(tx.init, tx.update)
    return tx, {**record, "optimizer": name}
