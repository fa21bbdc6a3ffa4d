"""The zoo's classifiers on the generic trainer."""

import pathlib
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._io import _checkpoint
from ..data._augment import Augment
from ..data._batches import num_batches
from ._classify import STATS, standardize
from ._recipes import RECIPES, Recipe
from ._trainer import TrainResult, train
from ._zoo import build_classifier, classifier_spec, zoo_objective


# Over 80 lines: it forwards train's parameter list (issue #25 step 3 replaces
# that list with strategy objects, leaving a thin factory call).
def train_classifier(
    model: str,
    data: dict[str, np.ndarray],
    *,
    epochs: int,
    batch_size: int = 400,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    seed: int = 0,
    hyperparams: dict | None = None,
    augment: Augment | None = None,
    recipe: str | Recipe | None = None,
    out_dir: str | pathlib.Path | None = None,
    resume: bool = True,
    force_resume: bool = False,
    progress: bool = True,
    max_batches: int | None = None,
    checkpoint_steps: bool = True,
    checkpoint_every: int | None = None,
    on_nonfinite: str = "stop",
    devices: Sequence[jax.Device] | None = None,
    time_limit: float | None = None,
) -> TrainResult:
    """Train a zoo classifier: [`hamax.training.train`][] with the model's
    [`hamax.training.Classification`][] objective on standardised images.

    **Arguments:**

    - `model`: a key of [`hamax.zoo.CLASSIFIERS`][].
    - `data`: uint8 arrays `x_train, y_train, x_test, y_test` (e.g. from
      [`hamax.data.load_mnist`][]).
    - `hyperparams`: passed to the zoo builder (e.g. `{"num_hidden": 500}`).
    - `augment`: an [`hamax.data.Augment`][] applied to training images.
    - `recipe`: a [`hamax.training.Recipe`][] or a key of
      [`hamax.training.RECIPES`][] (`"paper"`, `"fast"`): its optimiser and
      learning-rate schedule (built for this run's `epochs`) replace
      `learning_rate` and `weight_decay`. Batch size and augmentation stay as
      given.
    - `checkpoint_steps`: rematerialise descent steps in the backward pass
      ([`hamax.Remat`][], default) or store them ([`hamax.BPTT`][]).
    - the rest: as for [`hamax.training.train`][].
    """
    spec = classifier_spec(model)
    if isinstance(recipe, str) and recipe not in RECIPES:
        raise ValueError(
            f"Unknown recipe {recipe!r}; choose one of {', '.join(RECIPES)} or pass "
            "a hamax.training.Recipe."
        )
    out = pathlib.Path(out_dir) if out_dir is not None else None
    if out is not None and resume and (out / "checkpoint.eqx").exists():
        saved = _checkpoint.read_meta(out / "checkpoint.eqx").get("model")
        if saved != model:
            raise ValueError(
                f"{out / 'checkpoint.eqx'} holds model {saved!r}, not {model!r}; use "
                "another out_dir."
            )
    ham = build_classifier(model, hyperparams, seed=seed)
    objective = zoo_objective(model, remat=checkpoint_steps)
    y_train, y_test = (
        np.asarray(data[k]).astype(np.int32) for k in ("y_train", "y_test")
    )
    train_data = {
        spec.image: standardize(data["x_train"], spec.dataset),
        spec.label: y_train,
    }
    test_data = {
        spec.image: standardize(data["x_test"], spec.dataset),
        spec.label: y_test,
    }
    transform = (
        None if augment is None else _Augmented(augment, spec.image, spec.dataset)
    )
    optim = optim_name = None
    if recipe is not None:
        rec = RECIPES[recipe] if isinstance(recipe, str) else recipe
        steps = num_batches(len(y_train), batch_size)
        steps = steps if max_batches is None else min(steps, max_batches)
        optim, optim_name = rec.optimizer(steps, epochs), rec.describe(epochs)
    return train(
        ham,
        objective,
        train_data,
        test_data=test_data,
        epochs=epochs,
        optim=optim,
        optim_name=optim_name,
        batch_size=batch_size,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        seed=seed,
        transform=transform,
        out_dir=out_dir,
        resume=resume,
        force_resume=force_resume,
        progress=progress,
        max_batches=max_batches,
        checkpoint_every=checkpoint_every,
        on_nonfinite=on_nonfinite,
        devices=devices,
        time_limit=time_limit,
        meta={"model": model, "hyperparams": hyperparams or {}},
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
