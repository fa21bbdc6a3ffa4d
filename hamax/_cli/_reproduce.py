"""`hamax reproduce`: the paper's Table 1 at its protocol, in resumable chunks.

Each model trains in its own run directory under `--out` (`--epochs` is a
target: running again continues from the checkpoint, bit-identical to an
uninterrupted run). Each run directory gets `metrics.csv` (the learning curves),
`curves.png`, and `reproduce.json` (accuracies, wall time, machine, versions and
the exact command); `--out` gets `results.md` / `results.json` for all models.
"""

import argparse
import importlib.metadata as md
import json
import os
import pathlib
import platform
import shlex
import sys
import time

import jax
import numpy as np

from .._io._atomic import atomic_write_bytes
from ..data import AUGMENTATIONS
from ..training import Limits, RunDir, TrainStatus, adamw, train_classifier
from ..training._report import duration
from ..zoo import CLASSIFIERS
from ._figures import savefig
from ._flags import (
    add,
    exit_code,
    load_dataset,
    say,
    seconds,
    seed_flag,
    stop_if_interrupted,
    time_limit_flag,
    time_limited,
)
from ._types import positive_int


# Table 1 of the paper: best top-1 accuracy (%) "on the validation set" at 100
# epochs (600 in brackets there), MNIST and CIFAR-10.
PAPER_100 = {
    "hn_relu_mnist": 98.74,
    "hn_softmax_mnist": 97.32,
    "conv_ham_mnist": 99.29,
    "hn_relu_cifar10": 58.82,
    "hn_softmax_cifar10": 53.17,
    "conv_ham_cifar10": 82.08,
}

# The paper's protocol (its appendix A): AdamW at a constant 1e-3, b1 0.9,
# b2 0.99, weight decay 1e-4, batch 400, 100 epochs, Table 2's augmentation.
EPOCHS, BATCH_SIZE, LEARNING_RATE = 100, 400, 1e-3


NAME = "reproduce"
HELP = "train the paper's models at its protocol and write Table 1"
DESCRIPTION = (
    "Train each model at the paper's protocol (AdamW lr 1e-3, batch 400, Table 2 "
    "augmentation, 100 epochs) in its own run directory under --out, and write "
    "results.md/.json (best and final test accuracy against the paper's), "
    "curves.png, metrics.csv and reproduce.json per model. --epochs is a target: "
    "run again with a larger one to continue in chunks, bit-identical to one "
    "uninterrupted run."
)


def flags(rep: argparse.ArgumentParser) -> None:
    """`hamax reproduce`'s flags."""
    add(
        rep,
        "--data",
        "dataset file or directory: PATH for the models' one dataset, or "
        "mnist=PATH / cifar10=PATH (repeatable); unset = the cache, downloading "
        "with a sha256 check",
        action="append",
        default=None,
        metavar="[DATASET=]PATH",
    )
    add(
        rep,
        "--out",
        "output directory",
        default="hamax-output/reproduce",
        metavar="DIR",
    )
    seed_flag(rep)
    rep.add_argument(
        "--models",
        nargs="+",
        default=["hn_relu_mnist", "hn_softmax_mnist", "conv_ham_mnist"],
        choices=list(CLASSIFIERS),
        help="zoo models (default: %(default)s)",
    )
    add(
        rep,
        "--epochs",
        "target epochs per model (the paper's Table 1: 100)",
        type=positive_int,
        default=100,
    )
    add(
        rep,
        "--augment",
        "the paper's Table 2 augmentation (--no-augment to train without)",
        action=argparse.BooleanOptionalAction,
        default=True,
    )
    add(
        rep,
        "--max-batches",
        "cap on batches per epoch (for quick checks; not the paper's protocol)",
        type=positive_int,
        default=None,
    )
    time_limit_flag(rep, "each model (the whole command: up to N models times that)")


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run `hamax reproduce`; returns the exit code."""
    rows = run_reproduce(
        args.out,
        models=args.models,
        epochs=args.epochs,
        data=_reproduce_data(args.data, args.models),
        seed=args.seed,
        augment=args.augment,
        max_batches=args.max_batches,
        time_limit=seconds(args.time_limit),
        progress=True,
        command=shlex.join(["hamax", *(sys.argv[1:] if argv is None else argv)]),
    )
    statuses = [_status(r["status"]) for r in rows]
    for r, status in zip(rows, statuses):
        if status is TrainStatus.time_limit:
            where = pathlib.Path(args.out) / r["model"]
            time_limited("reproduce", args.time_limit, r["epochs"], where)
    return exit_code(statuses)


def _status(text: str) -> TrainStatus:
    """A results row's status: a `TrainStatus` value, or the free text that
    earlier versions wrote into results.json (rows of other models are kept)."""
    try:
        return TrainStatus(text)
    except ValueError:
        return TrainStatus.time_limit if "time limit" in text else TrainStatus.nonfinite


def _reproduce_data(given: list[str] | None, models: list[str]) -> dict[str, str]:
    """`--data` values as {dataset: path}: `mnist=PATH`, `cifar10=PATH`, or a bare
    PATH when the models use one dataset."""
    datasets = sorted({CLASSIFIERS[m].dataset for m in models})
    out: dict[str, str] = {}
    for item in given or []:
        name, sep, path = item.partition("=")
        if sep and name in ("mnist", "cifar10"):
            out[name] = path
        elif len(datasets) == 1:
            out[datasets[0]] = item
        else:
            raise ValueError(
                f"--data {item!r}: the models use {' and '.join(datasets)}, so say "
                "which dataset the path is for, e.g. --data mnist=PATH --data "
                "cifar10=PATH."
            )
    return out


def curves_figure(history: list[dict], path: pathlib.Path, target: float | None):
    """Train/test accuracy and loss per epoch, side by side; the paper's
    100-epoch accuracy as a dashed line."""
    import matplotlib  # optional dependency (the `plot` extra)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg"): no display needed

    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, kind in zip(axes, ("accuracy", "loss")):
        for split in ("train", "test"):
            k = f"{split}_{kind}"
            if any(k in r for r in history):
                scale = 100 if kind == "accuracy" else 1
                ax.plot(epochs, [scale * r.get(k, np.nan) for r in history], label=k)
        if kind == "accuracy" and target is not None:
            ax.axhline(target, ls="--", c="gray", lw=1, label="paper, 100 epochs")
        ax.set_xlabel("epoch")
        ax.set_ylabel(kind + (" (%)" if kind == "accuracy" else ""))
        ax.legend(fontsize=8)
    savefig(fig, path)
    plt.close(fig)
    return path


def versions() -> dict:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for pkg in ("hamax", "jax", "jaxlib", "equinox", "optax", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in f
                    if ln.startswith("model name")
                ),
                cpu,
            )
    except OSError:
        pass
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    backend = jax.default_backend()
    return f"{cpu}, {os.cpu_count()} cores; jax backend {backend} ({devices})"


def summarize(model: str, history: list[dict], seconds: float, augment) -> dict:
    """One results row: best and final test accuracy, wall time."""
    acc = [r["test_accuracy"] for r in history]
    best = int(np.argmax(acc))
    return {
        "model": model,
        "epochs": len(history),
        "best_test_accuracy": acc[best],
        "best_epoch": history[best]["epoch"],
        "final_test_accuracy": acc[-1],
        "paper_100_epochs": PAPER_100.get(model),
        "median_epoch_seconds": float(np.median([r["epoch_seconds"] for r in history])),
        "train_seconds_total": float(sum(r["epoch_seconds"] for r in history)),
        "wall_seconds_this_chunk": seconds,
        "augment": repr(augment) if augment is not None else None,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| model | epochs | best test acc. (epoch) | final test acc. | paper, best "
        "at 100 | s/epoch | training time |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        paper = r["paper_100_epochs"]
        lines.append(
            f"| {r['model']} | {r['epochs']} | {100 * r['best_test_accuracy']:.2f}% "
            f"({r['best_epoch']}) | {100 * r['final_test_accuracy']:.2f}% | "
            + (f"{paper:.2f}%" if paper is not None else "n/a")
            + f" | {r['median_epoch_seconds']:.1f} | "
            f"{duration(r['train_seconds_total'])} |"
        )
    return "\n".join(lines) + "\n"


def run_reproduce(
    out: str,
    *,
    models: list[str],
    epochs: int = EPOCHS,
    data: dict[str, str] | None = None,
    seed: int = 0,
    augment: bool = True,
    max_batches: int | None = None,
    time_limit: float | None = None,
    progress: bool = True,
    command: str | None = None,
) -> list[dict]:
    """Train each model at the paper's protocol up to `epochs` (continuing any
    run already in `out`), then write the results table. `data` maps a dataset
    name to a local file or directory (else the cache or a download).
    `time_limit` (seconds) bounds each model's chunk (see
    [`hamax.training.train`][])."""
    outdir = pathlib.Path(out)
    if command is None:
        command = shlex.join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]])
    rows = []
    for model in models:
        spec = CLASSIFIERS[model]
        arrays = load_dataset(spec.dataset, (data or {}).get(spec.dataset))
        aug = AUGMENTATIONS[spec.dataset] if augment else None
        run = outdir / model
        say(
            f"reproduce: {model} on {spec.dataset} to epoch {epochs} (batch "
            f"{BATCH_SIZE}, AdamW lr {LEARNING_RATE}, "
            f"{'Table 2 augmentation' if augment else 'no augmentation'}); run "
            f"directory {run}"
        )
        t0 = time.perf_counter()
        res = train_classifier(
            model,
            arrays,
            epochs=epochs,
            batch_size=BATCH_SIZE,
            optim=adamw(LEARNING_RATE),
            seed=seed,
            run=RunDir(run),
            augment=aug,
            progress=progress,
            limits=Limits(time=time_limit, batches=max_batches),
        )
        stop_if_interrupted(res.status)
        if not res.history:
            raise ValueError(f"reproduce: {model} trained no epoch ({res.message}).")
        row = summarize(model, res.history, time.perf_counter() - t0, aug)
        row.update(
            status=res.status.value,
            message=res.message,
            command=command,
            machine=machine(),
            versions=versions(),
            protocol={
                "epochs": epochs,
                "batch_size": BATCH_SIZE,
                "learning_rate": LEARNING_RATE,
                "weight_decay": 1e-4,
                "max_batches": max_batches,
            },
        )
        curves_figure(res.history, run / "curves.png", PAPER_100.get(model))
        atomic_write_bytes(run / "reproduce.json", json.dumps(row, indent=1).encode())
        rows.append(row)
    rows = _merged(outdir / "results.json", rows)
    text = table(rows)
    note = (
        "\nbest = the highest test accuracy over the epochs run (the paper reports "
        "its best on a validation set; here the test set plays that role, so "
        "'best' is optimistic); final = the test accuracy after the last epoch.\n"
    )
    atomic_write_bytes(outdir / "results.md", (text + note).encode())
    atomic_write_bytes(outdir / "results.json", json.dumps(rows, indent=1).encode())
    print(text + note)
    return rows


def _merged(path: pathlib.Path, rows: list[dict]) -> list[dict]:
    """`rows`, after the rows of other models already in `path` (a results file
    of earlier commands on the same --out), so results.md keeps every model."""
    try:
        old = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return rows
    ours = {r["model"] for r in rows}
    kept = [
        r
        for r in (old if isinstance(old, list) else [])
        if isinstance(r, dict)
        and r.get("model") in PAPER_100
        and r["model"] not in ours
    ]
    return kept + rows
