from typing import Any

import equinox as eqx
import jax

from ._objectives import AbstractObjective


class Joint(AbstractObjective):
    """A weighted sum of objectives, e.g. classification plus reconstruction.
    Metrics are reported per part, prefixed by its index and class name
    (`0_Classification_accuracy`), with each part's loss as `<prefix>_loss`.
    """

    objectives: tuple[AbstractObjective, ...]
    weights: tuple[float, ...] = eqx.field(static=True, default=())

    def __check_init__(self):
        if not self.objectives:
            raise ValueError("Joint expected at least one objective.")
        if self.weights and len(self.weights) != len(self.objectives):
            raise ValueError(
                f"Joint got {len(self.objectives)} objectives but "
                f"{len(self.weights)} weights; give one weight per objective."
            )

    def layers(self):
        return tuple(dict.fromkeys(n for o in self.objectives for n in o.layers()))

    def batch_keys(self):
        return tuple(dict.fromkeys(n for o in self.objectives for n in o.batch_keys()))

    def check(self, ham, batch=None):
        for o in self.objectives:
            o.check(ham, batch)

    def loss(self, ham, batch, *, key=None):
        weights = self.weights or (1.0,) * len(self.objectives)
        keys = (
            jax.random.split(key, len(self.objectives))
            if key is not None
            else [None] * len(self.objectives)
        )
        total: Any = 0.0
        metrics = {}
        for i, (o, w, k) in enumerate(zip(self.objectives, weights, keys)):
            loss, m = o.loss(ham, batch, key=k)
            total = total + w * loss
            prefix = f"{i}_{type(o).__name__}"
            metrics[f"{prefix}_loss"] = loss
            metrics.update({f"{prefix}_{name}": v for name, v in m.items()})
        return total, metrics
