"""The base of every objective: what a HAM is trained to do, as a loss."""

import abc
from typing import Any

import equinox as eqx
from jaxtyping import Array, PRNGKeyArray, Scalar

from .._misc import suggest


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
