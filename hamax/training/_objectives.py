"""Objectives: what a HAM is trained to do, as a loss on the states after descent."""

import abc
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, PRNGKeyArray, Scalar

from .._misc import suggest
from ..dynamics import AbstractAdjoint, AbstractStop, Monitor, Remat, Steps
from ..dynamics._descend import descend
from ..dynamics._stop import as_steps
from ._classify import accuracy, cross_entropy, log_probs


def as_core(ham):
    """The core [`hamax.HAM`][] of `ham`: itself, or the core a seeds' compat HAM
    (`hamax.compat` list API) keeps its one copy of the parameters in."""
    core = getattr(ham, "core", None)
    return ham if core is None else core


class AbstractObjective(eqx.Module):
    """What a HAM is trained to do: a loss on a batch.

    Subclass it and implement `loss` (and optionally `layers`) to train a HAM on
    anything; [`hamax.training.train`][] and [`hamax.training.make_step`][] take
    any objective. A batch is a dict of arrays with a leading batch axis, keyed
    by names the objective chooses (usually layer names).
    """

    @abc.abstractmethod
    def loss(
        self, ham, batch: dict[str, Array], *, key: PRNGKeyArray | None = None
    ) -> tuple[Scalar, dict[str, Scalar]]:
        """`(mean loss over the batch, metrics)`; metrics is a dict name -> scalar
        (batch means) reported per epoch."""

    def layers(self) -> tuple[str, ...]:
        """The layer names the objective reads or clamps (checked against the HAM
        before training starts)."""
        return ()

    def batch_keys(self) -> tuple[str, ...]:
        """The keys the objective reads from a batch."""
        return ()

    def check(self, ham, batch: dict[str, Any] | None = None) -> None:
        """Raise a clear ValueError when the objective names a layer the HAM lacks
        or a batch key the data lacks."""
        ham = as_core(ham)
        for name in self.layers():
            if name not in ham.neurons:
                raise ValueError(
                    f"{type(self).__name__} names layer {name!r}, which the HAM does "
                    f"not have (layers: {', '.join(map(repr, ham.neurons))})."
                    + suggest(name, ham.neurons)
                )
        if batch is not None:
            for name in self.batch_keys():
                if name not in batch:
                    raise ValueError(
                        f"{type(self).__name__} reads batch[{name!r}], which the data "
                        f"does not have (keys: {', '.join(map(repr, batch))})."
                        + suggest(name, batch)
                    )


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
        return sol.states


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
        shape = ham.neurons[self.image].shape
        images = images.reshape(images.shape[0], *shape)

        def one(img):
            system = ham.clamp({self.image: img})
            return self._settle(system, system.init())[self.label]

        return jax.vmap(one)(images)

    def loss(self, ham, batch, *, key=None):
        del key
        x = self.predict(ham, batch[self.image])
        logp = log_probs(as_core(ham), self.label, x)
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
        layer = ham.neurons[self.target]
        truth = batch[self.target].reshape(-1, *layer.shape)
        given = {
            k: _as_state(ham, k, batch[k], self.given_scale, truth.dtype)
            for k in self.given
        }
        mask = (
            None
            if self.mask is None
            else jnp.broadcast_to(jnp.asarray(self.mask), layer.shape)
        )

        def one(x_true, given):
            values = dict(given)
            masks = {}
            if mask is not None:
                values[self.target] = x_true
                masks[self.target] = mask
            system = ham.clamp(values, masks)
            return self._settle(system, system.init(dtype=x_true.dtype))[self.target]

        return jax.vmap(one)(truth, given)

    def loss(self, ham, batch, *, key=None):
        del key
        layer = as_core(ham).neurons[self.target]
        x = self.complete(ham, batch)
        truth = batch[self.target].reshape(x.shape)
        g, g_true = jax.vmap(layer.activation)(x), jax.vmap(layer.activation)(truth)
        err = (g - g_true) ** 2
        if self.mask is None:
            mse = jnp.mean(err)
        else:
            hidden = ~jnp.broadcast_to(jnp.asarray(self.mask), layer.shape)
            weight = jnp.broadcast_to(hidden, err.shape).astype(err.dtype)
            mse = jnp.sum(err * weight) / jnp.maximum(jnp.sum(weight), 1.0)
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
