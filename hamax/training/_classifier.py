"""The zoo's classifiers on the generic trainer."""

import inspect
import warnings
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from .._io import _checkpoint
from ..data._augment import Augment
from ._classify import STATS, standardize
from ._recipes import RECIPES
from ._rundir import RunDir
from ._strategies import upgrade
from ._trainer import TrainResult, train
from ._zoo import build_classifier, classifier_spec, zoo_objective


def train_classifier(
    model: str,
    data: dict[str, np.ndarray],
    *,
    epochs: int,
    hyperparams: dict | None = None,
    augment: Augment | None = None,
    checkpoint_steps: bool = True,
    seed: int = 0,
    run: RunDir | None = None,
    optim: Any = None,
    **train_kwargs: Any,
) -> TrainResult:
    """Train a zoo classifier: [`hamax.training.train`][] with the model's
    [`hamax.training.Classification`][] objective on standardised images.

    **Arguments:**

    - `model`: a key of [`hamax.zoo.CLASSIFIERS`][].
    - `data`: uint8 arrays `x_train, y_train, x_test, y_test` (e.g. from
      [`hamax.data.load_mnist`][]).
    - `epochs`: as for `train`.
    - `hyperparams`: passed to the zoo builder (e.g. `{"num_hidden": 500}`).
    - `augment`: an [`hamax.data.Augment`][] applied to training images.
    - `checkpoint_steps`: rematerialise descent steps in the backward pass
      ([`hamax.Remat`][], default) or store them ([`hamax.BPTT`][]).
    - `seed`: draws the model's parameters, and is `train`'s seed.
    - `run`: as for `train`; the checkpoints also record the model and its
      hyperparameters, and a run directory holding another model is refused.
    - `optim`: as for `train`, or a key of [`hamax.training.RECIPES`][]
      (`"paper"`, `"fast"`): a recipe's optimiser and learning-rate schedule
      are built for this run's epochs; batch size and augmentation stay as
      given.
    - the rest (`batch_size`, `limits`, `progress`, `on_nonfinite`,
      `devices`): as for [`hamax.training.train`][], passed on unchanged.

    The old keywords of `train` (and `recipe`, now `optim`) still work for one
    release, with a `DeprecationWarning`.
    """
    if "recipe" in train_kwargs:
        warnings.warn(
            "train_classifier: the keyword recipe is deprecated and will be "
            "removed in the next release; use recipe -> optim=.",
            DeprecationWarning,
            stacklevel=2,
        )
        if optim is not None and train_kwargs["recipe"] is not None:
            raise TypeError("train_classifier got `optim` and `recipe`; give one.")
        optim = train_kwargs.pop("recipe") if optim is None else optim
    old = {k: train_kwargs.pop(k) for k in list(train_kwargs) if k not in _TRAIN}
    run, limits, optim = upgrade(
        "train_classifier",
        old,
        run,
        train_kwargs.pop("limits", None),
        optim,
        (*inspect.signature(train_classifier).parameters, *_TRAIN),
        stacklevel=3,
    )
    spec = classifier_spec(model)
    if isinstance(optim, str):
        if optim not in RECIPES:
            raise ValueError(
                f"Unknown recipe {optim!r}; choose one of {', '.join(RECIPES)} or "
                "pass a hamax.training.Recipe."
            )
        optim = RECIPES[optim]
    if run is not None:
        run = _with_model(run, model, hyperparams)
    ham = build_classifier(model, hyperparams, seed=seed)
    train_data, test_data = (
        {
            spec.image: standardize(data[f"x_{split}"], spec.dataset),
            spec.label: np.asarray(data[f"y_{split}"]).astype(np.int32),
        }
        for split in ("train", "test")
    )
    transform = (
        None if augment is None else _Augmented(augment, spec.image, spec.dataset)
    )
    return train(
        ham,
        zoo_objective(model, remat=checkpoint_steps),
        train_data,
        test_data=test_data,
        epochs=epochs,
        optim=optim,
        seed=seed,
        transform=transform,
        run=run,
        limits=limits,
        **train_kwargs,
    )


# What train takes besides what train_classifier builds (for the did-you-mean).
_TRAIN = ("batch_size", "limits", "progress", "on_nonfinite", "devices")


def _with_model(run: RunDir, model: str, hyperparams: dict | None) -> RunDir:
    """`run` with the model in its metadata; refused when its checkpoint holds
    another model."""
    if not isinstance(run, RunDir):
        return run  # train says what is wrong with it
    if run.resume and run.checkpoint.exists():
        saved = _checkpoint.read_meta(run.checkpoint).get("model")
        if saved != model:
            raise ValueError(
                f"{run.checkpoint} holds model {saved!r}, not {model!r}; use "
                "another run directory."
            )
    return RunDir(
        run.path,
        resume=run.resume,
        force_resume=run.force_resume,
        checkpoint_every=run.checkpoint_every,
        meta={**run.meta, "model": model, "hyperparams": hyperparams or {}},
    )


class _Augmented(eqx.Module):
    """Augment the standardised images of a batch: undo the standardisation,
    augment in [0, 1], standardise again. Its repr (the augmentation's settings)
    is what a resume compares."""

    augment: Augment
    image: str = eqx.field(static=True)
    dataset: str = eqx.field(static=True)

    def __call__(self, batch, key):
        mean, std = (
            jnp.asarray(a, jnp.float32).reshape(1, 1, 1, -1)
            for a in STATS[self.dataset]
        )
        x = batch[self.image]
        return {
            **batch,
            self.image: (self.augment(x * std + mean, key=key) - mean) / std,
        }
