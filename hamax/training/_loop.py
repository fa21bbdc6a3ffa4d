import csv
import dataclasses
import io
import json
import pathlib
import time
from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
from tqdm.auto import tqdm

from .. import _checkpoint
from .._ham import HAM
from ..data._augment import Augment
from ..data._batches import iterate_batches, num_batches
from ..data._download import atomic_write_bytes
from ..zoo import CLASSIFIERS
from ._classify import STATS, standardize
from ._step import adamw, eval_step, init_opt_state, make_step


@dataclasses.dataclass
class TrainResult:
    """What [`hamax.training.train_classifier`][] returns."""

    ham: HAM
    history: list[dict]
    checkpoint: pathlib.Path | None
    status: str = "completed"


def build_classifier(
    model: str, hyperparams: dict | None = None, *, seed: int = 0
) -> HAM:
    """Build the zoo classifier `model` with its parameters drawn from `seed`."""
    if model not in CLASSIFIERS:
        raise ValueError(
            f"Unknown model {model!r}; choose one of {', '.join(CLASSIFIERS)}."
        )
    return CLASSIFIERS[model].make(
        key=jr.key(seed), dtype=jnp.float32, **(hyperparams or {})
    )


def evaluate(
    ham: HAM, model: str, x: np.ndarray, y: np.ndarray, *, batch_size: int = 1000
) -> dict:
    """Test loss and accuracy of `ham` on standardised images `x`, labels `y`."""
    spec = CLASSIFIERS[model]
    losses, correct, n = [], 0, 0
    for xb, yb in iterate_batches((x, y), batch_size, drop_last=False):
        loss, c = eval_step(
            ham,
            jnp.asarray(xb),
            jnp.asarray(yb, jnp.int32),
            steps=spec.steps,
            dt=spec.dt,
            image=spec.image,
            label=spec.label,
        )
        losses.append(float(loss) * len(yb))
        correct += int(c)
        n += len(yb)
    return {"loss": sum(losses) / n, "accuracy": correct / n}


def _write_metrics(out: pathlib.Path, history: list[dict]) -> None:
    atomic_write_bytes(out / "metrics.json", json.dumps(history, indent=1).encode())
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(history[0]))
    writer.writeheader()
    writer.writerows(history)
    atomic_write_bytes(out / "metrics.csv", buf.getvalue().encode())


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
    out_dir: str | pathlib.Path | None = None,
    resume: bool = True,
    progress: bool = True,
    max_batches: int | None = None,
    checkpoint_steps: bool = True,
    checkpoint_every: int | None = None,
    on_nonfinite: str = "stop",
    devices: Sequence[jax.Device] | None = None,
) -> TrainResult:
    """Train a zoo classifier by backpropagation through its descent.

    Each epoch shuffles the training set (a generator seeded by `(seed, epoch)`,
    so a resumed run sees the same batches), trains with AdamW, evaluates on the
    test set, appends to `metrics.json`/`metrics.csv` and writes
    `checkpoint.eqx` atomically in `out_dir`. With `resume`, an existing
    checkpoint there is continued from its last finished epoch.

    **Arguments:**

    - `model`: a key of [`hamax.zoo.CLASSIFIERS`][].
    - `data`: uint8 arrays `x_train, y_train, x_test, y_test` (e.g. from
      [`hamax.data.load_mnist`][]).
    - `epochs`: total number of epochs (including resumed ones).
    - `batch_size`, `learning_rate`, `weight_decay`: paper defaults 400, 1e-3, 1e-4.
    - `hyperparams`: passed to the zoo builder (e.g. `{"num_hidden": 500}`).
    - `augment`: an [`hamax.data.Augment`][] applied to training batches.
    - `max_batches`: cap on batches per epoch (for quick runs).
    - `checkpoint_steps`: rematerialise descent steps in the backward pass
      (default True: faster and leaner; see [`hamax.training.forward`][]).
    - `checkpoint_every`: also checkpoint every this many batches within an
      epoch; a run killed mid-epoch resumes at the next batch with identical
      results (no step lost or repeated).
    - `on_nonfinite`: when the loss becomes NaN/inf, `"stop"` (default) returns
      with `status` saying where, keeping the last good parameters (and
      checkpoint); `"raise"` raises `FloatingPointError`.
    - `devices`: data-parallel training: each batch is split across these devices
      (default: all visible devices; `batch_size` must divide evenly), parameters
      are replicated. See [`hamax.training.data_parallel`][].
    """
    spec = CLASSIFIERS.get(model)
    if spec is None:
        raise ValueError(
            f"Unknown model {model!r}; choose one of {', '.join(CLASSIFIERS)}."
        )
    if epochs < 1 or batch_size < 1:
        raise ValueError(
            "train_classifier expected epochs >= 1 and batch_size >= 1, got "
            f"{epochs}, {batch_size}."
        )
    if len(data["x_train"]) < batch_size:
        raise ValueError(
            f"train_classifier got {len(data['x_train'])} training images, fewer than "
            f"one batch of {batch_size}; lower batch_size."
        )
    if on_nonfinite not in ("stop", "raise"):
        raise ValueError(
            "train_classifier expected `on_nonfinite` to be 'stop' or 'raise', got "
            f"{on_nonfinite!r}."
        )
    batch_sharding, replicated = data_parallel(devices)
    ndev = len(batch_sharding.mesh.devices.flat)
    if batch_size % ndev:
        raise ValueError(
            f"train_classifier splits each batch over {ndev} devices, so batch_size "
            f"must be a multiple of {ndev}; got {batch_size}."
        )
    ham = build_classifier(model, hyperparams, seed=seed)
    optim = adamw(learning_rate, weight_decay=weight_decay)
    opt_state = init_opt_state(ham, optim)
    history: list[dict] = []
    start, skip = 0, 0
    partial: dict[str, Any] = {"losses": [], "accs": [], "seconds": 0.0}
    out = pathlib.Path(out_dir) if out_dir is not None else None
    ckpt = out / "checkpoint.eqx" if out is not None else None
    if ckpt is not None and resume and ckpt.exists():
        (ham, opt_state), meta = _checkpoint.load(ckpt, (ham, opt_state))
        if meta.get("model") != model:
            raise ValueError(
                f"{ckpt} holds model {meta.get('model')!r}, not {model!r}; use "
                "another out_dir."
            )
        start, history = meta["epoch"], meta["history"]
        skip = meta.get("batch", 0)
        partial = meta.get("partial", partial)
    ham, opt_state = eqx.filter_shard((ham, opt_state), replicated)
    x_train = standardize(data["x_train"], spec.dataset)
    x_test = standardize(data["x_test"], spec.dataset)
    y_train = data["y_train"].astype(np.int32)
    y_test = data["y_test"].astype(np.int32)
    mean, std = (jnp.asarray(a, jnp.float32) for a in STATS[spec.dataset])
    nb = num_batches(len(y_train), batch_size)
    if max_batches is not None:
        nb = min(nb, max_batches)

    def save(epoch_done: int, batch: int, part: dict) -> None:
        if out is None or ckpt is None:
            return
        out.mkdir(parents=True, exist_ok=True)
        info: dict[str, Any] = {
            "model": model,
            "hyperparams": hyperparams or {},
            "epoch": epoch_done,
            "batch": batch,
            "partial": part,
            "history": history,
            "seed": seed,
        }
        _checkpoint.save(ckpt, (ham, opt_state), meta=info)

    status = "completed"
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        # The order of an epoch depends only on (seed, epoch): a resumed run, even
        # one resumed mid-epoch, sees exactly the batches an uninterrupted one does.
        rng = np.random.default_rng([seed, epoch])
        first = skip if epoch == start else 0
        losses = list(partial["losses"]) if first else []
        accs = list(partial["accs"]) if first else []
        spent = float(partial["seconds"]) if first else 0.0
        bar = tqdm(
            total=nb,
            initial=first,
            desc=f"epoch {epoch + 1}/{epochs}",
            disable=not progress,
            leave=False,
        )
        batches = iterate_batches((x_train, y_train), batch_size, rng=rng)
        for i, (xb_np, yb) in enumerate(batches):
            if i >= nb:
                break
            if i < first:
                continue
            xb = jnp.asarray(xb_np)
            if augment is not None:
                key = jr.fold_in(jr.key(seed), epoch * nb + i)
                xb = (augment(xb * std + mean, key=key) - mean) / std
            xb, yb_dev = _global_batch(batch_sharding, np.asarray(xb), yb)
            new_ham, new_opt, loss, acc = make_step(
                ham,
                opt_state,
                xb,
                yb_dev,
                optim=optim,
                steps=spec.steps,
                dt=spec.dt,
                image=spec.image,
                label=spec.label,
                checkpoint=checkpoint_steps,
            )
            if not np.isfinite(float(loss)):
                where = f"epoch {epoch + 1}, batch {i + 1}"
                bad = _nonfinite_leaves(new_ham)
                msg = (
                    f"train_classifier: the loss became non-finite at {where}"
                    + (f" (non-finite parameters: {', '.join(bad)})" if bad else "")
                    + "; the update was not applied"
                    + (f" and {ckpt} holds the last good state" if ckpt else "")
                    + ". Lower the learning rate or the model's dt."
                )
                if on_nonfinite == "raise":
                    bar.close()
                    raise FloatingPointError(msg)
                status = f"stopped: non-finite loss at {where}"
                if progress:
                    tqdm.write(msg)
                break
            ham, opt_state = new_ham, new_opt
            losses.append(float(loss))
            accs.append(float(acc))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{accs[-1]:.3f}")
            if checkpoint_every and (i + 1) % checkpoint_every == 0 and i + 1 < nb:
                part = {
                    "losses": losses,
                    "accs": accs,
                    "seconds": spent + time.perf_counter() - t0,
                }
                save(epoch, i + 1, part)
        bar.close()
        if status != "completed":
            break
        train_time = spent + time.perf_counter() - t0
        test = evaluate(ham, model, x_test, y_test)
        row = {
            "epoch": epoch + 1,
            "train_loss": float(np.mean(losses)),
            "train_accuracy": float(np.mean(accs)),
            "test_loss": test["loss"],
            "test_accuracy": test["accuracy"],
            "epoch_seconds": train_time,
        }
        history.append(row)
        save(epoch + 1, 0, {"losses": [], "accs": [], "seconds": 0.0})
        if out is not None:
            _write_metrics(out, history)
        if progress:
            tqdm.write(
                f"epoch {epoch + 1}: train loss {row['train_loss']:.4f} "
                f"acc {row['train_accuracy']:.4f} | test loss {row['test_loss']:.4f} "
                f"acc {row['test_accuracy']:.4f} | {train_time:.1f}s"
            )
    return TrainResult(ham, history, ckpt, status)


def _nonfinite_leaves(ham: HAM) -> list[str]:
    """Paths of the parameters that hold NaN or inf, e.g. `.synapses['m'].Ws[0]`."""
    leaves = jax.tree_util.tree_flatten_with_path(
        eqx.filter(ham, eqx.is_inexact_array)
    )[0]
    return [
        jax.tree_util.keystr(path)
        for path, leaf in leaves
        if not bool(jnp.all(jnp.isfinite(leaf)))
    ]


def _global_batch(sharding, *arrays):
    # Every process holds the same batch (same data, same seeded order), so each
    # device's shard is simply sliced out of it; this works on one host and,
    # under jax.distributed, across hosts.
    def shard(a: np.ndarray) -> jax.Array:
        return jax.make_array_from_callback(a.shape, sharding, lambda idx: a[idx])

    return tuple(shard(a) for a in arrays)


def data_parallel(devices: Sequence[jax.Device] | None = None):
    """Shardings for data-parallel training over `devices` (default: all visible).

    Returns `(batch, replicated)`: `NamedSharding`s on a 1-D mesh named
    `"batch"` that split an array's leading (batch) axis across the devices, and
    that replicate it (parameters, optimiser state). With one device both are
    trivial, so the same code runs everywhere; under `jax.distributed` the mesh
    spans every process's devices.
    """
    devices = list(jax.devices() if devices is None else devices)
    mesh = Mesh(np.array(devices), ("batch",))
    return NamedSharding(mesh, P("batch")), NamedSharding(mesh, P())
