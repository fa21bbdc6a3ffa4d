"""`hamax demo`: train a paper model on MNIST briefly, report its test accuracy,
write plots, and check Figure 2 with an independent classifier.

A command-line program, so it prints results to stdout (progress goes to
stderr); the library proper never prints.
"""

import argparse
import json
import pathlib
import platform
import time

import jax
import numpy as np

from .._io._atomic import atomic_write_bytes
from ..data import load_mnist_or_fallback
from ..training import RunDir, TrainStatus, train_classifier
from ..zoo import CLASSIFIERS
from ._figures import train_plots
from ._flags import (
    NONFINITE_EXIT,
    data_flag,
    out_flag,
    say,
    seed_flag,
    stop_if_interrupted,
)
from ._types import positive_int


NAME = "demo"
HELP = "train a paper model on MNIST briefly; print accuracy; write plots"
DESCRIPTION = (
    "Train a paper model on MNIST briefly, print its test accuracy, write "
    "plots, and check Figure 2 (retrieved digits) with an independent "
    "classifier."
)


def flags(d: argparse.ArgumentParser) -> None:
    """`hamax demo`'s flags."""
    data_flag(d, "MNIST")
    out_flag(d, "hamax-output")
    seed_flag(d)
    d.add_argument(
        "--model",
        default="hn_softmax_mnist",
        choices=[m for m, s in CLASSIFIERS.items() if s.dataset == "mnist"],
        help="zoo model (default: %(default)s)",
    )
    d.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="epochs (default: %(default)s = 3 on full MNIST, 15 on the offline "
        "subset)",
    )


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run `hamax demo`; returns the exit code."""
    del argv
    summary = run_demo(
        args.out,
        data=args.data,
        model=args.model,
        epochs=args.epochs,
        seed=args.seed,
        progress=True,
    )
    return 0 if summary["status"] == TrainStatus.completed.value else NONFINITE_EXIT


def _zscore(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    x = x - x.mean(1, keepdims=True)
    return x / np.maximum(x.std(1, keepdims=True), 1e-8)


def fit_linear_scorer(x: np.ndarray, y: np.ndarray, *, n: int = 10000):
    """An independent classifier for retrieved images (never the HAM): least
    squares onto one-hot labels, on images z-scored one by one (so it reads
    tanh activations as well as pixel intensities). Returns `predict(images)`."""
    X = _zscore(x[:n])
    X = np.concatenate([X, np.ones((len(X), 1))], 1)
    Y = np.eye(int(y.max()) + 1)[np.asarray(y[:n], np.int64)]
    W = np.linalg.solve(X.T @ X + 1e-1 * np.eye(X.shape[1]), X.T @ Y)

    def predict(images: np.ndarray) -> np.ndarray:
        Z = _zscore(images)
        return np.argmax(np.concatenate([Z, np.ones((len(Z), 1))], 1) @ W, 1)

    return predict


def _why_not_figure2(model: str) -> str:
    """Why a demo model's retrieved digits were not recognised."""
    if model != "hn_softmax_mnist":
        return (
            f"Figure 2 is the HN (SoftMax)'s figure, and {model} is another model "
            "(the HN (ReLU) has no hidden temperature to lower); run "
            "`hamax demo --model hn_softmax_mnist`."
        )
    return (
        "the HN (SoftMax) is trained here for classification only, briefly, and "
        "its memories are still partly noise; docs/associative_memory.md, "
        "section 'Figure 2', gives what each training length and retrieval "
        "setting measured (benchmarks/figure2_runs.py)."
    )


def figure2_check(retrieved: pathlib.Path, arrays: dict, model: str) -> int:
    """Figure 2 criterion (a): how many retrieved images (`retrieved.npz`) an
    independent classifier, fit on the demo's own training data, labels as their
    clamped digit. Prints the count and, below 8 of 10, why."""
    predict = fit_linear_scorer(arrays["x_train"], arrays["y_train"])
    test_acc = float((predict(arrays["x_test"]) == arrays["y_test"]).mean())
    with np.load(retrieved) as f:
        images, labels = f["images"], f["labels"]
    k = int((predict(images) == labels).sum())
    print(
        f"Figure 2 check: {k}/{len(labels)} retrieved digits recognised (independent "
        f"linear classifier fit on the demo's training images; "
        f"{100 * test_acc:.1f}% on its test images)"
    )
    if k < 8:
        print(f"  Fewer than 8: {_why_not_figure2(model)}")
    return k


def run_demo(
    out: str,
    *,
    data: str | None = None,
    model: str = "hn_softmax_mnist",
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict:
    """Train a paper model on MNIST briefly, report test accuracy, write plots,
    and check Figure 2 (a) with an independent classifier."""
    outdir = pathlib.Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    arrays, source = load_mnist_or_fallback(data, on_fallback=say)
    full = len(arrays["x_train"]) >= 60000
    epochs = epochs or (3 if full else 15)
    say(
        f"hamax demo: training {model} on {source} ({len(arrays['x_train'])} train "
        f"/ {len(arrays['x_test'])} test images) for {epochs} "
        f"epoch{'s' * (epochs != 1)}, batch 400, AdamW 1e-3."
    )
    t0 = time.perf_counter()
    result = train_classifier(
        model,
        arrays,
        epochs=epochs,
        seed=seed,
        run=RunDir(outdir / "run", resume=False),
        progress=progress,
    )
    seconds = time.perf_counter() - t0
    stop_if_interrupted(result.status)
    plots = train_plots(
        outdir, result.ham, model, result.history, arrays["x_test"], seed=seed
    )
    final = result.history[-1] if result.history else {}
    summary = {
        "model": model,
        "data": source,
        "epochs": epochs,
        "status": result.status.value,
        "test_accuracy": final.get("test_accuracy", float("nan")),
        "seconds": seconds,
        "plots": [str(p) for p in plots],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "jax_backend": jax.default_backend(),
    }
    print(
        f"test accuracy ({source}): {100 * summary['test_accuracy']:.2f}% after "
        f"{epochs} epoch{'s' * (epochs != 1)} ({seconds:.0f} s)"
    )
    print(f"plots: {', '.join(summary['plots'])}")
    summary["figure2_recognised"] = figure2_check(
        outdir / "retrieved.npz", arrays, model
    )
    atomic_write_bytes(outdir / "summary.json", json.dumps(summary, indent=1).encode())
    return summary
