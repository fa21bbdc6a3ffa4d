"""Wall time for a Table 1 model, unchanged, to reach the paper's accuracy.

Trains a zoo classifier (`--model`, default `hn_relu_mnist`: the paper's
architecture, energy and dynamics) with a named recipe
(`hamax.training.RECIPES`) on the full MNIST or CIFAR-10 and reports, from the
run's per-epoch history, the first epoch whose test accuracy reaches the target
(default: the model's Table 1 figure at 100 epochs, e.g. 98.74 % for the HN
(ReLU)), the training time up to it (sum of the epochs' training seconds,
compilation included) and the wall time of the whole run (evaluation included).
Writes `curve.csv`, `curve.png` and `result.json` in --out. With
`--time-limit MINUTES` the run stops before an epoch that would not finish in
time; the same command continues it (the run directory resumes).

    python benchmarks/time_to_accuracy.py --data ../shared/data/mnist.npz \
        --recipe fast [--model hn_softmax_mnist] [--epochs N] [--target 0.9732] \
        [--time-limit 60] [--out tta-results]
"""

import argparse
import json
import pathlib
import platform
import time

import numpy as np

from hamax._cli._reproduce import PAPER_100, curves_figure, machine, versions
from hamax.data import AUGMENTATIONS, load_cifar10, load_mnist
from hamax.training import RECIPES, Limits, RunDir, train_classifier
from hamax.zoo import CLASSIFIERS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="the dataset's .npz or directory")
    ap.add_argument("--model", choices=sorted(PAPER_100), default="hn_relu_mnist")
    ap.add_argument("--recipe", choices=list(RECIPES), default="fast")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--target", type=float, default=None, help="default: Table 1's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--time-limit", type=float, default=None, help="minutes")
    ap.add_argument("--out", default="tta-results")
    args = ap.parse_args()
    recipe = RECIPES[args.recipe]
    epochs = args.epochs or recipe.epochs
    target = args.target or PAPER_100[args.model] / 100
    name = f"{args.recipe}-{epochs}-seed{args.seed}"
    if args.model != "hn_relu_mnist":
        name = f"{args.model}-{name}"
    out = pathlib.Path(args.out) / name
    dataset = CLASSIFIERS[args.model].dataset
    load = load_mnist if dataset == "mnist" else load_cifar10
    arrays = load(args.data, download=False)
    t0 = time.perf_counter()
    res = train_classifier(
        args.model,
        arrays,
        epochs=epochs,
        optim=recipe,
        batch_size=recipe.batch_size,
        augment=AUGMENTATIONS[dataset] if recipe.augment else None,
        seed=args.seed,
        run=RunDir(out),
        limits=Limits(time=None if args.time_limit is None else 60 * args.time_limit),
    )
    wall = time.perf_counter() - t0
    hist = res.history
    train_s = np.cumsum([r["epoch_seconds"] for r in hist])
    hit = next((i for i, r in enumerate(hist) if r["test_accuracy"] >= target), None)
    result = {
        "model": args.model,
        "recipe": recipe.describe(epochs),
        "status": str(res.status),
        "target": target,
        "reached": hit is not None,
        "epoch_reached": None if hit is None else hist[hit]["epoch"],
        "train_seconds_to_target": None if hit is None else float(train_s[hit]),
        "best_test_accuracy": max(r["test_accuracy"] for r in hist),
        "final_test_accuracy": hist[-1]["test_accuracy"],
        "epochs": len(hist),
        "run_wall_seconds": wall,
        "machine": machine(),
        "python": platform.python_version(),
        "versions": versions(),
    }
    lines = ["epoch,train_seconds_cumulative,test_accuracy,train_loss"]
    lines += [
        f"{r['epoch']},{t:.2f},{r['test_accuracy']:.4f},{r['train_loss']:.4f}"
        for r, t in zip(hist, train_s)
    ]
    (out / "curve.csv").write_text("\n".join(lines) + "\n")
    curves_figure(hist, out / "curve.png", 100 * target)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
