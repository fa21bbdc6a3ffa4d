"""One epoch of training: batches, steps, progress, mid-epoch checkpoints."""

import dataclasses
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from tqdm.auto import tqdm

from ._parallel import global_batch
from ._step import make_step


# Per-step metrics an epoch reports as totals rather than means.
SUMMED = ("implicit_failures", "implicit_fallbacks")


@dataclasses.dataclass
class EpochState:
    """Where an epoch stands: batches done, their losses and metrics, seconds."""

    batch: int = 0
    losses: list = dataclasses.field(default_factory=list)
    metrics: dict = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {"losses": self.losses, "metrics": self.metrics, "seconds": self.seconds}

    @classmethod
    def from_json(cls, batch: int, d: dict | None) -> "EpochState":
        if not batch or not d:
            return cls()
        metrics = d.get("metrics")
        if metrics is None and "accs" in d:  # written by hamax 0.1
            metrics = {"accuracy": d["accs"]}
        return cls(batch, list(d["losses"]), dict(metrics or {}), float(d["seconds"]))

    def add(self, loss: float, metrics: dict) -> None:
        self.batch += 1
        self.losses.append(loss)
        for k, v in metrics.items():
            self.metrics.setdefault(k, []).append(v)

    def means(self) -> dict:
        out = {"loss": float(np.mean(self.losses))}
        # Counts of steps (hamax.Implicit's failures and fallbacks) add up.
        out.update(
            {
                k: float(np.sum(v) if k in SUMMED else np.mean(v))
                for k, v in self.metrics.items()
            }
        )
        return out


@dataclasses.dataclass
class EpochOutcome:
    ham: Any
    opt_state: Any
    state: EpochState
    failure: dict | None


def run_epoch(
    ham,
    opt_state,
    batches: Iterable[dict],
    *,
    objective,
    optim,
    transform: Callable | None,
    key,
    epoch: int,
    epochs: int,
    num_batches: int,
    state: EpochState,
    sharding,
    progress: bool,
    checkpoint_every: int | None,
    save: Callable,
) -> EpochOutcome:
    """Train on `batches` from `state.batch` on; stop at the first non-finite
    loss (returning the last good model and where it failed)."""
    t0 = time.perf_counter() - state.seconds
    first = state.batch
    bar = tqdm(
        total=num_batches,
        initial=first,
        desc=f"epoch {epoch + 1}/{epochs}",
        # A bar only on a terminal; logs get the trainer's one line per epoch.
        disable=not progress or not sys.stderr.isatty(),
        leave=False,
        mininterval=1.0,
    )
    failure = None
    try:
        for i, batch in enumerate(batches):
            if i >= num_batches:
                break
            if i < first:
                continue
            if transform is not None:
                out = transform(batch, jr.fold_in(key, i))
                batch = {k: np.asarray(v) for k, v in out.items()}
            step_key = jr.fold_in(jr.fold_in(key, i), 1)
            new_ham, new_opt, loss, metrics = make_step(
                ham,
                opt_state,
                global_batch(sharding, batch),
                objective=objective,
                optim=optim,
                key=step_key,
            )
            loss = float(loss)
            if not np.isfinite(loss):
                failure = {
                    "batch": i + 1,
                    "bad": nonfinite_leaves(new_ham),
                    "implicit": int(metrics.get("implicit_failures", 0)),
                    "examples": len(next(iter(batch.values()))),
                }
                break
            ham, opt_state = new_ham, new_opt
            state.add(loss, {k: float(v) for k, v in metrics.items()})
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if (
                checkpoint_every
                and (i + 1) % checkpoint_every == 0
                and i + 1 < num_batches
            ):
                state.seconds = time.perf_counter() - t0
                save(state, ham, opt_state)
    finally:
        bar.close()
    state.seconds = time.perf_counter() - t0
    return EpochOutcome(ham, opt_state, state, failure)


def nonfinite_leaves(ham) -> list[str]:
    """Paths of the parameters that hold NaN or inf, e.g. `.synapses['m'].Ws[0]`."""
    leaves = jax.tree_util.tree_flatten_with_path(
        eqx.filter(ham, eqx.is_inexact_array)
    )[0]
    return [
        jax.tree_util.keystr(path)
        for path, leaf in leaves
        if not bool(jnp.all(jnp.isfinite(leaf)))
    ]
