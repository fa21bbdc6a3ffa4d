"""Objectives: what a HAM is trained to do, as a loss on the states after descent."""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool

from .._system import ClampedSystem
from ..dynamics import AbstractAdjoint, AbstractStop, Monitor, Remat, Steps
from ..dynamics._descend import descend
from ..dynamics._eqprop import EqProp
from ..dynamics._stop import as_steps
from ._classify import accuracy, cross_entropy, log_probs
from ._eqprop import eqprop_loss
from ._objective_base import AbstractObjective as AbstractObjective, as_core as as_core


class _AbstractDescentObjective(AbstractObjective):
    # An objective scored on the states after a descent: the descent's
    # parameters, their checks and the descent itself, shared by the concrete
    # objectives (which declare the fields: equinox's abstract/final pattern).
    dt: eqx.AbstractVar[float]
    steps: eqx.AbstractVar[int]
    stop: eqx.AbstractVar[AbstractStop | None]
    adjoint: eqx.AbstractVar[AbstractAdjoint]

    def __check_init__(self):
        _check_dt(self, self.dt)
        as_steps(self.steps, type(self).__name__)

    def _settle(self, system, x0) -> dict[str, Array]:
        # A diverging model shows up as a non-finite loss, which the training
        # loop reports with the epoch and batch; no runtime error here.
        stop = self.stop
        if stop is None:
            stop = Steps(as_steps(self.steps, "objective"))
        # The loss reads the states only: the stability check (three energies
        # per descent, see hamax.Monitor) would cost time in every step.
        sol = descend(
            system,
            x0,
            dt=self.dt,
            stop=stop,
            adjoint=self.adjoint,
            throw=False,
            check_monotone=Monitor(track=False),
        )
        return sol.free

    def _states(self, ham, examples) -> dict[str, Array]:
        # The free states after the descent, per example (batched).
        return jax.vmap(lambda ex: self._settle(*self._clamp(ham, ex)))(examples)

    def loss(self, ham, batch, *, key=None):
        del key
        ham = as_core(ham)
        if isinstance(self.adjoint, EqProp):
            return eqprop_loss(self, ham, batch)
        return self._score(ham, batch, self._states(ham, self._examples(ham, batch)))

    # Per-example hooks, shared by the descent and hamax.EqProp's relaxations:
    # the batch as per-example inputs; one example's clamped system and initial
    # free states; the layers the cost reads; the cost of their activations `g`
    # (its batch mean is the loss); the loss and metrics from the free states.
    @abc.abstractmethod
    def _examples(self, ham, batch) -> dict: ...

    @abc.abstractmethod
    def _clamp(self, ham, example) -> tuple[ClampedSystem, dict[str, Array]]: ...

    @abc.abstractmethod
    def _read(self) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def _cost(self, ham, g, example) -> Array: ...

    @abc.abstractmethod
    def _score(self, ham, batch, free) -> tuple[Array, dict[str, Array]]: ...


class Classification(_AbstractDescentObjective):
    """Classification as association: clamp the image, descend, read the label
    layer; cross-entropy on the true labels, accuracy as a metric.

    **Arguments:**

    - `image`, `label`: the clamped input layer and the read-out layer (also the
      batch keys: `batch[image]` images, `batch[label]` integer labels).
    - `dt`, `steps` (or `stop`): the descent.
    - `adjoint`: how gradients flow through it (default [`hamax.Remat`][]`()`,
      faster and leaner than storing every step on the paper's models).
    """

    image: str = eqx.field(static=True, default="image")
    label: str = eqx.field(static=True, default="label")
    dt: float = eqx.field(static=True, default=0.1)
    steps: int = eqx.field(static=True, default=10)
    stop: AbstractStop | None = eqx.field(static=True, default=None)
    adjoint: AbstractAdjoint = eqx.field(static=True, default=Remat())

    def layers(self):
        return (self.image, self.label)

    def batch_keys(self):
        return (self.image, self.label)

    def predict(self, ham, images: Array) -> Array:
        """Final states of the label layer for a batch of images."""
        ham = as_core(ham)
        return self._states(ham, self._examples(ham, {self.image: images}))[self.label]

    def _examples(self, ham, batch):
        images = batch[self.image]
        shape = ham.neurons[self.image].shape
        out = {"image": images.reshape(images.shape[0], *shape)}
        if self.label in batch:
            out["label"] = batch[self.label]
        return out

    def _clamp(self, ham, example):
        system = ham.clamp({self.image: example["image"]})
        return system, system.init()

    def _read(self):
        return (self.label,)

    def _cost(self, ham, g, example):
        # The cross-entropy of log_probs as a function of the label activations:
        # log_softmax(beta x) = log g for a softmax layer.
        del ham
        gy = g[self.label][example["label"]]
        return -jnp.log(jnp.maximum(gy, jnp.finfo(gy.dtype).tiny))

    def _score(self, ham, batch, free):
        logp = log_probs(ham, self.label, free[self.label])
        labels = batch[self.label]
        return cross_entropy(logp, labels), {"accuracy": accuracy(logp, labels)}


class Completion(_AbstractDescentObjective):
    r"""Pattern completion / reconstruction: clamp what is known, descend, and
    score the layer `target` where it was not observed.

    The known part is `batch[target]` where `mask` is True (the rest of the
    layer starts at 0 and is completed) and, for every name in `given`,
    `batch[name]` clamped whole (integer labels become one-hot states of
    amplitude `given_scale`). The loss is the mean squared error between the
    activations of `target` after the descent and the activations of the true
    state, over the unobserved elements.

    **Arguments:**

    - `target`: the layer to complete (and its batch key).
    - `mask`: boolean array of the layer's shape, True = observed; `None`
      observes nothing (pure reconstruction from `given`).
    - `given`: other layers clamped whole (batch keys of the same names).
    - `given_scale`: amplitude of one-hot states made from integer labels.
    - `dt`, `steps` (or `stop`), `adjoint`: the descent.
    """

    target: str = eqx.field(static=True, default="image")
    mask: Bool[Array, "..."] | None = None
    given: tuple[str, ...] = eqx.field(static=True, default=())
    given_scale: float = eqx.field(static=True, default=1.0)
    dt: float = eqx.field(static=True, default=0.1)
    steps: int = eqx.field(static=True, default=10)
    stop: AbstractStop | None = eqx.field(static=True, default=None)
    adjoint: AbstractAdjoint = eqx.field(static=True, default=Remat())

    def __check_init__(self):
        if isinstance(self.given, str):
            raise ValueError(
                f"Completion expected `given` to be a tuple of layer names, got the "
                f"string {self.given!r}; write given=({self.given!r},)."
            )
        if self.mask is None and not self.given:
            raise ValueError(
                "Completion got nothing to complete from: pass `mask` (the observed "
                "part of the target layer) or `given` (layers clamped whole)."
            )
        if self.mask is not None and jnp.asarray(self.mask).dtype != jnp.bool_:
            raise ValueError(
                "Completion expected `mask` to be a boolean array (True = observed), "
                f"got dtype {jnp.asarray(self.mask).dtype}."
            )

    def layers(self):
        return (self.target, *self.given)

    def batch_keys(self):
        return (self.target, *self.given)

    def check(self, ham, batch=None):
        super().check(ham, batch)
        if self.mask is not None:
            shape = as_core(ham).neurons[self.target].shape
            try:
                jnp.broadcast_shapes(jnp.shape(self.mask), shape)
            except ValueError:
                raise ValueError(
                    f"Completion expected `mask` broadcastable to the shape {shape} of "
                    f"layer {self.target!r}, got {jnp.shape(self.mask)}."
                ) from None

    def complete(self, ham, batch) -> Array:
        """Final states of the target layer for a batch."""
        ham = as_core(ham)
        return self._states(ham, self._examples(ham, batch))[self.target]

    def _examples(self, ham, batch):
        truth = batch[self.target].reshape(-1, *ham.neurons[self.target].shape)
        given = {
            k: _as_state(ham, k, batch[k], self.given_scale, truth.dtype)
            for k in self.given
        }
        return {"truth": truth, "given": given}

    def _mask(self, ham):
        shape = ham.neurons[self.target].shape
        return None if self.mask is None else jnp.broadcast_to(self.mask, shape)

    def _clamp(self, ham, example):
        values, masks = dict(example["given"]), {}
        if self.mask is not None:
            values[self.target] = example["truth"]
            masks[self.target] = self._mask(ham)
        system = ham.clamp(values, masks)
        return system, system.init(dtype=example["truth"].dtype)

    def _read(self):
        return (self.target,)

    def _cost(self, ham, g, example):
        # Squared error over the unobserved elements of one example; the batch
        # loss is the mean of these (every example hides the same elements).
        layer = ham.neurons[self.target]
        err = (g[self.target] - layer.activation(example["truth"])) ** 2
        mask = self._mask(ham)
        if mask is None:
            return jnp.mean(err)
        weight = (~mask).astype(err.dtype)
        return jnp.sum(err * weight) / jnp.maximum(jnp.sum(weight), 1.0)

    def _score(self, ham, batch, free):
        examples = self._examples(ham, batch)
        layer = ham.neurons[self.target]
        g = jax.vmap(layer.activation)(free[self.target])
        mse = jnp.mean(
            jax.vmap(lambda g, ex: self._cost(ham, {self.target: g}, ex))(g, examples)
        )
        return mse, {"mse": mse}


def _as_state(ham, name: str, value, scale: float, dtype):
    """Integer labels -> one-hot states of amplitude `scale`; states unchanged."""
    value = jnp.asarray(value)
    if jnp.issubdtype(value.dtype, jnp.integer):
        (k,) = ham.neurons[name].shape
        return scale * jax.nn.one_hot(value, k, dtype=dtype)
    return value.astype(dtype)


def _check_dt(owner, dt) -> None:
    if isinstance(dt, bool) or not (
        isinstance(dt, int | float) and 0 < dt < float("inf")
    ):
        raise ValueError(
            f"{type(owner).__name__} expected `dt` to be a finite number > 0, got "
            f"{dt!r}."
        )
