"""The zoo's classifiers as a training stage sees them: a model built from a
seed, and its classification objective."""

import jax.numpy as jnp
import jax.random as jr

from .._ham import HAM
from ..dynamics import BPTT, Remat
from ..zoo import CLASSIFIERS
from ._objectives import Classification


def build_classifier(
    model: str, hyperparams: dict | None = None, *, seed: int = 0
) -> HAM:
    """Build the zoo classifier `model` with its parameters drawn from `seed`."""
    return classifier_spec(model).make(
        key=jr.key(seed), dtype=jnp.float32, **(hyperparams or {})
    )


def zoo_objective(model: str, *, remat: bool = True) -> Classification:
    """The [`hamax.training.Classification`][] objective of zoo classifier `model`
    (its layers, depth and step size)."""
    spec = classifier_spec(model)
    return Classification(
        image=spec.image,
        label=spec.label,
        dt=spec.dt,
        steps=spec.steps,
        adjoint=Remat() if remat else BPTT(),
    )


def classifier_spec(model: str):
    if model not in CLASSIFIERS:
        raise ValueError(
            f"Unknown model {model!r}; choose one of {', '.join(CLASSIFIERS)}."
        )
    return CLASSIFIERS[model]
