import csv
import dataclasses
import io
import json
import pathlib
import time
from typing import Any

import jax.numpy as jnp
import jax.random as jr
import numpy as np
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
    checkpoint_steps: bool = False,
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
    - `checkpoint_steps`: rematerialise descent steps in the backward pass.
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
    ham = build_classifier(model, hyperparams, seed=seed)
    optim = adamw(learning_rate, weight_decay=weight_decay)
    opt_state = init_opt_state(ham, optim)
    history: list[dict] = []
    start = 0
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
    x_train = standardize(data["x_train"], spec.dataset)
    x_test = standardize(data["x_test"], spec.dataset)
    y_train = data["y_train"].astype(np.int32)
    y_test = data["y_test"].astype(np.int32)
    mean, std = (jnp.asarray(a, jnp.float32) for a in STATS[spec.dataset])
    nb = num_batches(len(y_train), batch_size)
    if max_batches is not None:
        nb = min(nb, max_batches)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, epoch])
        bar = tqdm(
            total=nb,
            desc=f"epoch {epoch + 1}/{epochs}",
            disable=not progress,
            leave=False,
        )
        losses, accs = [], []
        batches = iterate_batches((x_train, y_train), batch_size, rng=rng)
        for i, (xb_np, yb) in enumerate(batches):
            if i >= nb:
                break
            xb = jnp.asarray(xb_np)
            if augment is not None:
                key = jr.fold_in(jr.key(seed), epoch * nb + i)
                xb = (augment(xb * std + mean, key=key) - mean) / std
            ham, opt_state, loss, acc = make_step(
                ham,
                opt_state,
                xb,
                jnp.asarray(yb),
                optim=optim,
                steps=spec.steps,
                dt=spec.dt,
                image=spec.image,
                label=spec.label,
                checkpoint=checkpoint_steps,
            )
            losses.append(float(loss))
            accs.append(float(acc))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", acc=f"{accs[-1]:.3f}")
        bar.close()
        train_time = time.perf_counter() - t0
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
        if out is not None and ckpt is not None:
            out.mkdir(parents=True, exist_ok=True)
            info: dict[str, Any] = {
                "model": model,
                "hyperparams": hyperparams or {},
                "epoch": epoch + 1,
                "history": history,
                "seed": seed,
            }
            _checkpoint.save(ckpt, (ham, opt_state), meta=info)
            _write_metrics(out, history)
        if progress:
            tqdm.write(
                f"epoch {epoch + 1}: train loss {row['train_loss']:.4f} "
                f"acc {row['train_accuracy']:.4f} | test loss {row['test_loss']:.4f} "
                f"acc {row['test_accuracy']:.4f} | {train_time:.1f}s"
            )
    return TrainResult(ham, history, ckpt)
