"""Up-front checks of the trainer's arguments and data (before any work)."""

import math

import jax.numpy as jnp
import numpy as np

from ._objectives import AbstractObjective, as_core
from ._rundir import RunDir
from ._strategies import Limits


def check_args(objective, ham, train, test, epochs, batch_size, on_nonfinite) -> int:
    if not isinstance(objective, AbstractObjective):
        raise ValueError(
            "train expected `objective` to be a hamax.training objective (e.g. "
            f"Classification(), Completion(...)), got {type(objective).__name__}."
        )
    for name, v, lo in (("epochs", epochs, 1), ("batch_size", batch_size, 1)):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
            raise ValueError(
                f"train expected `{name}` to be an int >= {lo}, got {v!r}."
            )
    if on_nonfinite not in ("stop", "raise"):
        raise ValueError(
            "train expected `on_nonfinite` to be 'stop' or 'raise', got "
            f"{on_nonfinite!r}."
        )
    for split, data in (("train_data", train), ("test_data", test)):
        if data is None:
            continue
        objective.check(ham, data)
        lengths = {k: len(v) for k, v in data.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"train expected the arrays of `{split}` to have one length, got "
                f"{lengths}."
            )
        if not lengths or not next(iter(lengths.values())):
            raise ValueError(f"train got an empty `{split}`.")
        for k, v in data.items():
            core = as_core(ham)
            if k in getattr(core, "neurons", {}) and np.issubdtype(v.dtype, np.integer):
                check_labels(core, split, k, v)
            elif k in getattr(core, "neurons", {}):
                check_fits(core, split, k, v)
            check_finite(split, k, v)
    n = len(next(iter(train.values())))
    if n < batch_size:
        raise ValueError(
            f"train got {n} training examples, fewer than one batch of {batch_size}; "
            "lower batch_size."
        )
    return n


def check_fits(ham, split, name, v) -> None:
    """Examples of a layer's data must hold one state of that layer each."""
    shape = tuple(ham.neurons[name].shape)
    each = tuple(np.shape(v)[1:])
    if math.prod(each) != math.prod(shape) or not np.shape(v):
        raise ValueError(
            f"train got {split}[{name!r}] with examples of shape {each} "
            f"({math.prod(each)} values), which do not fit layer {name!r} of shape "
            f"{shape}; give one state of shape {shape} (or flattened) per example."
        )


def check_finite(split, name, v) -> None:
    """A NaN or inf in the data would only show as a non-finite loss (or a
    runtime error inside the jitted step) later: refuse it up front."""
    v = np.asarray(v)
    if not np.issubdtype(v.dtype, np.inexact) or v.size == 0:
        return
    finite = np.isfinite(v.reshape(len(v), -1)).all(axis=1) if v.ndim else [True]
    if not np.all(finite):
        i = int(np.argmin(finite))
        raise ValueError(
            f"train got NaN or inf in {split}[{name!r}][{i}] (example {i}); "
            "remove or fix the non-finite examples before training."
        )


def check_labels(ham, split, name, labels) -> None:
    """Integers for a layer of shape `(k,)` are class labels, one per example."""
    shape = ham.neurons[name].shape
    if len(shape) != 1:
        return
    k = shape[0]
    if jnp.ndim(labels) != 1:
        raise ValueError(
            f"train got integers of shape {labels.shape} ({labels.dtype}) in "
            f"{split}[{name!r}]; integers for a layer of shape {tuple(shape)} are "
            "read as class labels, one per example, so they must be 1-D. If these "
            "are raw pixels (e.g. uint8 images), make float states of them first: "
            f"hamax.training.standardize(images, 'mnist') (or your own scaling), "
            f"reshaped to (n, {k})."
        )
    bad = (labels < 0) | (labels >= k)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(
            f"train got {split}[{name!r}][{i}] = {int(labels[i])}, outside the {k} "
            f"units of layer {name!r}; labels must be in 0..{k - 1}."
        )


def check_strategies(run, limits) -> tuple:
    """`run` and `limits` as `train` uses them (`limits` never None).

    **Raises:** `TypeError` naming the object to give instead.
    """
    if run is not None and not isinstance(run, RunDir):
        raise TypeError(
            "train expected `run` to be a hamax.training.RunDir or None, got "
            f"{run!r}; e.g. run=RunDir({str(run)!r})."
        )
    if limits is None:
        limits = Limits()
    if not isinstance(limits, Limits):
        raise TypeError(
            "train expected `limits` to be a hamax.training.Limits or None, got "
            f"{limits!r}; e.g. limits=Limits(time=3600, batches=100)."
        )
    return run, limits
