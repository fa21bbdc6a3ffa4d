"""The training loop for any HAM and any objective: epochs, checkpoints, metrics."""

import dataclasses
import inspect
import pathlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.random as jr
import numpy as np

from .._ham import HAM
from .._io import _checkpoint
from .._io._spec import to_spec
from ..data._batches import iterate_batches, num_batches
from ..lagrangians import learned_values
from . import _distributed as dist
from ._epoch import EpochState, run_epoch
from ._evaluate import evaluate
from ._objective_io import objective_to_json
from ._objectives import AbstractObjective
from ._parallel import data_parallel
from ._report import describe, epoch_line, out_of_time, say, write_metrics
from ._rundir import RunDir
from ._status import TrainStatus
from ._step import init_opt_state
from ._strategies import Limits, resolve_optim, upgrade
from ._validate import check_args, check_strategies


@dataclasses.dataclass
class TrainResult:
    """What [`hamax.training.train`][] returns.

    **Fields:**

    - `ham`: the trained model (the last good parameters).
    - `history`: one dict of metrics per finished epoch.
    - `checkpoint`: the training checkpoint (None without a `run` directory).
    - `status`: a [`hamax.training.TrainStatus`][]: `completed`, or why
      training stopped (`time_limit`, `nonfinite`, `interrupted`).
    - `opt_state`: the optimiser state.
    - `message`: `status` in words, with the details (e.g. which epoch and
      batch the loss became non-finite at).
    """

    ham: Any
    history: list[dict]
    checkpoint: pathlib.Path | None
    status: TrainStatus = TrainStatus.completed
    opt_state: Any = None
    message: str = "completed"

    def __repr__(self) -> str:
        # The model and the optimiser state print as their types only: the
        # default dataclass repr dumps every parameter array and moment.
        last = self.history[-1] if self.history else {}
        shown = {k: v for k, v in last.items() if isinstance(v, (int, float))}
        epoch = shown.pop("epoch", len(self.history))
        metrics = ", ".join(
            f"{k}={v:.4g}" for k, v in shown.items() if not k.startswith("learned.")
        )
        return (
            f"TrainResult(status={self.status.value}, epochs={epoch}"
            + (f", last epoch: {metrics}" if metrics else "")
            + f", ham={type(self.ham).__name__}(...), checkpoint={self.checkpoint}"
            + f", message={self.message!r})"
        )


# Over 80 lines: the docstring is a third of it, and the epoch loop shares the
# resume state, the run directory and the status with the set-up around it.
def train(
    ham: Any,
    objective: AbstractObjective,
    train_data: Mapping[str, np.ndarray],
    *,
    test_data: Mapping[str, np.ndarray] | None = None,
    epochs: int,
    batch_size: int = 400,
    optim: Any = None,
    seed: int = 0,
    transform: Callable | None = None,
    run: RunDir | None = None,
    limits: Limits | None = None,
    progress: bool = True,
    on_nonfinite: str = "stop",
    devices: Sequence[jax.Device] | None = None,
    **deprecated: Any,
) -> TrainResult:
    """Train any HAM on any objective by backpropagation through its dynamics.

    Each epoch shuffles the training set (a generator seeded by `(seed, epoch)`,
    so a resumed run sees the same batches), takes one
    [`hamax.training.make_step`][] per batch, evaluates on `test_data`, and, with
    a `run` directory, appends to `metrics.json` / `metrics.csv` and writes
    `checkpoint.eqx` (training state, to resume) and `model.eqx` (the model with
    its architecture as data, for [`hamax.load_model`][]) atomically. The run
    directory is locked while training.

    **Arguments:**

    - `ham`: the model: a [`hamax.HAM`][] you built, a zoo model, or a compat HAM.
    - `objective`: what to train it for, e.g.
      [`hamax.training.Classification`][], [`hamax.training.Completion`][],
      [`hamax.training.Joint`][], or your own [`hamax.training.AbstractObjective`][].
    - `train_data`, `test_data`: dicts of arrays with the same leading length,
      keyed as the objective reads them (e.g. `{"image": x, "label": y}`).
    - `epochs`: total number of epochs (a target: a resumed run continues to it).
    - `batch_size`: examples per step.
    - `optim`: the optimiser: an optax transformation (default
      [`hamax.training.adamw`][]`()`, the paper's), a
      [`hamax.training.Recipe`][] (its optimiser and schedule, built for this
      run's epochs and batches), or a `(transformation, name)` pair whose name
      the resume check compares (an optax transformation does not say its own
      settings; `adamw` with a constant rate does).
    - `seed`: the batch order of each epoch and the steps' random keys.
    - `transform`: `transform(batch, key) -> batch` applied to each training
      batch (e.g. a [`hamax.data.Augment`][]); it is traced once under
      `jax.jit`, so it must be a JAX function of the batch arrays.
    - `run`: a [`hamax.training.RunDir`][]: where to checkpoint, whether to
      resume and how often to checkpoint; None: nothing is written.
    - `limits`: a [`hamax.training.Limits`][]: wall time of this call and
      batches per epoch; None: no limit.
    - `progress`: print a line per epoch (and a progress bar).
    - `on_nonfinite`: `"stop"` (return, keeping the last good state, with
      `status` naming the epoch and batch) or `"raise"` (`FloatingPointError`);
      also what a failed [`hamax.Implicit`][] solve without a fallback does
      (status `nonfinite`; the message says the implicit solve failed).
    - `devices`: data-parallel over these devices (default all; `batch_size`
      must divide evenly).

    `progress`, `on_nonfinite` and `devices` have no strategy object of their
    own: each is one independent choice, so they stay plain parameters.

    The old keywords `out_dir`, `resume`, `force_resume`, `checkpoint_every`,
    `meta`, `time_limit`, `max_batches`, `optim_name`, `learning_rate` and
    `weight_decay` still work for one release, with a `DeprecationWarning`
    naming the new spelling.
    """
    run, limits, optim = upgrade(
        "train", deprecated, run, limits, optim, _PARAMETERS, stacklevel=3
    )
    train_data = {k: np.asarray(v) for k, v in train_data.items()}
    test_data = (
        None if test_data is None else {k: np.asarray(v) for k, v in test_data.items()}
    )
    n = check_args(
        objective, ham, train_data, test_data, epochs, batch_size, on_nonfinite
    )
    run, limits = check_strategies(run, limits)
    max_batches, time_limit = limits.batches, limits.time
    batch_sharding, replicated = data_parallel(devices)
    ndev = len(batch_sharding.mesh.devices.flat)
    if batch_size % ndev:
        raise ValueError(
            f"train splits each batch over {ndev} devices, so batch_size must be a "
            f"multiple of {ndev}; got {batch_size}."
        )
    nb = num_batches(n, batch_size)
    nb = nb if max_batches is None else min(nb, max_batches)
    optim, record = resolve_optim(optim, nb, epochs)
    opt_state = init_opt_state(ham, optim)
    settings = {
        "objective": objective_to_json(objective),
        "batch_size": batch_size,
        "learning_rate": record["learning_rate"],
        "weight_decay": record["weight_decay"],
        "seed": seed,
        "max_batches": max_batches,
        "optimizer": record["optimizer"],
        "transform": describe(transform),
    }
    meta = run.meta if run is not None else {}
    state = EpochState()
    history: list[dict] = []
    start = 0
    if run is not None and dist.is_writer():  # one writer: process 0
        run.acquire()
    try:
        # Every process must resume alike and run as many steps (or all hang).
        same = {**settings, "epochs": epochs, "examples": n}
        resumable = dist.agree_on_checkpoint(
            run, same, resume=run is not None and run.resume
        )
        if run is not None and resumable is not None:
            # Settings first: a different optimiser also changes the state's
            # structure, and the difference is what the user needs to see.
            saved = _checkpoint.read_meta(run.checkpoint)
            run.check_settings(
                saved.get("settings", settings), settings, run.force_resume
            )
            (ham, opt_state), saved = _checkpoint.load(run.checkpoint, (ham, opt_state))
            start, history = saved["epoch"], saved["history"]
            state = EpochState.from_json(saved.get("batch", 0), saved.get("partial"))
        ham, opt_state = eqx.filter_shard((ham, opt_state), replicated)
        spec = _spec_of(ham)
        status, message = TrainStatus.completed, "completed"

        def save(epoch_done: int, st: EpochState, ham, opt_state) -> None:
            if run is None or not dist.is_writer():
                return
            info = {
                **meta,
                "epoch": epoch_done,
                "batch": st.batch,
                "partial": st.to_json(),
                "history": history,
                "seed": seed,
                "settings": settings,
            }
            _checkpoint.save(run.checkpoint, (ham, opt_state), meta=info, spec=spec)

        jitted_transform = None if transform is None else jax.jit(transform)
        walls = [time.perf_counter()]  # the start, then the end of each epoch
        if start >= epochs and progress:
            where = run.path if run else None
            say(f"train: {where} is at epoch {start} of {epochs}: nothing to train.")
        for epoch in range(start, epochs):
            if dist.agree_to_stop(out_of_time(time_limit, walls, time.perf_counter())):
                status = TrainStatus.time_limit
                message = (
                    f"stopped: time limit ({time_limit:g} s) before epoch {epoch + 1}"
                )
                break
            rng = np.random.default_rng([seed, epoch])
            batches = iterate_batches(tuple(train_data.values()), batch_size, rng=rng)
            keys = tuple(train_data)
            out = run_epoch(
                ham,
                opt_state,
                ({k: v for k, v in zip(keys, b)} for b in batches),
                objective=objective,
                optim=optim,
                transform=jitted_transform,
                key=jr.fold_in(jr.key(seed), epoch),
                epoch=epoch,
                epochs=epochs,
                num_batches=nb,
                state=state if epoch == start else EpochState(),
                sharding=batch_sharding,
                progress=progress,
                checkpoint_every=run.checkpoint_every if run else None,
                save=lambda st, h, o, epoch=epoch: save(epoch, st, h, o),
            )
            ham, opt_state, st = out.ham, out.opt_state, out.state
            if out.failure is not None and out.failure["implicit"]:
                where = f"epoch {epoch + 1}, batch {out.failure['batch']}"
                msg = (
                    f"train: the implicit adjoint's linear solve failed at {where} "
                    f"({out.failure['implicit']} of {out.failure['examples']} "
                    "examples); the update was not applied; "
                    + _last_good(run, history, start, st)
                    + ". Pass hamax.Implicit(fallback=hamax.Remat()) to backpropagate "
                    "through the descent when it fails, tighten the stopping rule, "
                    "or give a stronger `linear_solver`."
                )
                if on_nonfinite == "raise":
                    raise FloatingPointError(msg)
                # make_step refused the step with a NaN loss: a non-finite stop.
                status = TrainStatus.nonfinite
                message = f"stopped: implicit solve failed at {where}"
                if progress:
                    say(msg)
                break
            if out.failure is not None:
                msg = (
                    f"train: the loss became non-finite at epoch {epoch + 1}, batch "
                    f"{out.failure['batch']}"
                    + (
                        f" (non-finite parameters: {', '.join(out.failure['bad'])})"
                        if out.failure["bad"]
                        else ""
                    )
                    + "; the update was not applied; "
                    + _last_good(run, history, start, st)
                    + ". Lower the learning rate or the model's dt."
                )
                if on_nonfinite == "raise":
                    raise FloatingPointError(msg)
                where = f"epoch {epoch + 1}, batch {out.failure['batch']}"
                status = TrainStatus.nonfinite
                message = f"stopped: non-finite loss at {where}"
                if progress:
                    say(msg)
                break
            row = {
                "epoch": epoch + 1,
                **{f"train_{k}": v for k, v in st.means().items()},
            }
            if test_data is not None:
                test = evaluate(ham, objective, test_data)
                row.update({f"test_{k}": v for k, v in test.items()})
            # The value of every learnable hyperparameter (hamax.learnable).
            row.update({f"learned.{k}": v for k, v in learned_values(ham).items()})
            row["epoch_seconds"] = st.seconds
            history.append(row)
            save(epoch + 1, EpochState(), ham, opt_state)
            if run is not None and dist.is_writer():
                model_meta = {
                    **meta,
                    "epoch": epoch + 1,
                    "objective": settings["objective"],
                }
                _checkpoint.save(
                    run.path / "model.eqx", ham, meta=model_meta, spec=spec
                )
                write_metrics(run, history)
            if progress:
                done = epoch + 1 - start
                eta = (time.perf_counter() - walls[0]) / done * (epochs - epoch - 1)
                say(dist.process_prefix() + epoch_line(row, epochs, eta))
            state = EpochState()
            walls.append(time.perf_counter())
        checkpoint = run.checkpoint if run else None
        return TrainResult(ham, history, checkpoint, status, opt_state, message)
    except KeyboardInterrupt:
        # Ctrl-C: return what was trained, the run directory unlocked (the
        # command line then exits 130).
        message = "stopped: interrupted; " + _last_good(run, history, start, state)
        checkpoint = run.checkpoint if run else None
        return TrainResult(
            ham, history, checkpoint, TrainStatus.interrupted, opt_state, message
        )
    except jax.errors.JaxRuntimeError as e:
        dist.raise_lost_peer(e, run.path if run else None)
    finally:
        if run is not None:
            run.release()


_PARAMETERS = tuple(inspect.signature(train).parameters)[:-1]


def _last_good(run, history, start, st) -> str:
    if run is None:
        return "no checkpoint was written (no run directory)"
    if run.checkpoint.exists():
        return f"{run.checkpoint} holds the last good state"
    return "no checkpoint was written yet"


def _spec_of(ham):
    if not isinstance(ham, HAM):
        return None
    try:
        return to_spec(ham)
    except ValueError:
        return None  # an unregistered user module: the model loads with `like=`
