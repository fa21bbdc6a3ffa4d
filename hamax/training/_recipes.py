"""Named training recipes for the zoo classifiers: the paper's, and a faster one
that keeps the architecture and the energy and changes only the optimisation."""

import dataclasses

import optax

from ._step import adamw


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train a zoo classifier.

    **Fields:**

    - `name`.
    - `learning_rate`: the constant rate, or the peak of the schedule.
    - `schedule`: `"constant"`, or `"cosine"` (linear warm-up for
      `warmup_epochs`, then cosine decay to zero at the last epoch).
    - `warmup_epochs`, `epochs` (the default length of a run), `batch_size`,
      `weight_decay`, `augment` (the paper's Table 2 augmentation).
    """

    name: str
    learning_rate: float = 1e-3
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    epochs: int = 100
    batch_size: int = 400
    weight_decay: float = 1e-4
    augment: bool = True

    def optimizer(self, steps_per_epoch: int, epochs: int | None = None):
        """The AdamW optimiser (the paper's b1, b2) with this recipe's learning
        rate schedule, for runs of `epochs` (default `self.epochs`)."""
        epochs = self.epochs if epochs is None else epochs
        if self.schedule == "constant":
            return adamw(self.learning_rate, weight_decay=self.weight_decay)
        total = max(1, steps_per_epoch * epochs)
        warmup = min(int(self.warmup_epochs * steps_per_epoch), total - 1)
        lr = optax.warmup_cosine_decay_schedule(
            0.0, self.learning_rate, warmup, total, end_value=0.0
        )
        return adamw(lr, weight_decay=self.weight_decay)

    def describe(self, epochs: int | None = None) -> str:
        """What a resume compares: the whole recipe and the run length its
        schedule was built for."""
        fields = dataclasses.asdict(self)
        fields["epochs"] = self.epochs if epochs is None else epochs
        return ", ".join(f"{k}={v}" for k, v in fields.items())


RECIPES = {
    # The paper's Appendix A: AdamW at a constant 1e-3, batch 400, Table 2
    # augmentation, 100 epochs.
    "paper": Recipe("paper"),
    # Same architecture, energy, dynamics and batch; a warm-up and a cosine
    # decay from a higher peak rate (benchmarks/time_to_accuracy.py measures it).
    "fast": Recipe(
        "fast", learning_rate=3e-3, schedule="cosine", warmup_epochs=1.0, epochs=30
    ),
}
"""The named recipes: `"paper"` (the paper's protocol) and `"fast"` (its
architecture and batch, a warm-up and cosine decay from a higher peak rate; see
docs/reproduction.md for what it reaches and how fast)."""
