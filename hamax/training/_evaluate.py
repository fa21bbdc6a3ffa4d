from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
import numpy as np

from ..data._batches import iterate_batches
from ._objectives import AbstractObjective
from ._step import eval_step
from ._zoo import zoo_objective


def evaluate(
    ham: Any,
    objective: AbstractObjective | str,
    data: Any,
    labels: np.ndarray | None = None,
    *,
    batch_size: int = 1000,
) -> dict[str, float]:
    """The objective's loss and metrics on `data`, averaged over every example
    (the last, smaller batch weighted by its size).

    **Arguments:**

    - `ham`: the model.
    - `objective`: the [`hamax.training.AbstractObjective`][] to score.
    - `data`: dict of arrays keyed as the objective reads them.
    - `batch_size`: examples per evaluation batch.

    **Returns:** `{"loss": ..., <metric>: ...}`.

    The old form `evaluate(ham, model_name, images, labels)` for zoo classifiers
    (standardised images) still works.
    """
    if isinstance(objective, str):
        objective = zoo_objective(objective)
        data = {objective.image: data, objective.label: labels}
    assert isinstance(data, Mapping)
    keys = tuple(data)
    totals: dict[str, float] = {}
    n = 0
    for b in iterate_batches(tuple(data.values()), batch_size, drop_last=False):
        batch = {k: jnp.asarray(v) for k, v in zip(keys, b)}
        m = len(b[0])
        loss, metrics = eval_step(ham, batch, objective=objective)
        for k, v in {"loss": loss, **metrics}.items():
            totals[k] = totals.get(k, 0.0) + float(v) * m
        n += m
    return {k: v / n for k, v in totals.items()}
