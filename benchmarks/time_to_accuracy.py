"""Wall time for the paper's HN (ReLU), unchanged, to reach a test accuracy on MNIST.

Trains `hn_relu_mnist` (the paper's architecture, energy and dynamics) with a
named recipe (`hamax.training.RECIPES`) on the full MNIST and reports, from the
run's per-epoch history, the first epoch whose test accuracy reaches the target
(default: 98.74 %, the paper's Table 1 figure at 100 epochs), the training time
up to it (sum of the epochs' training seconds, compilation included) and the
wall time of the whole run (evaluation included). Writes `curve.csv`,
`curve.png` and `result.json` in --out.

    python benchmarks/time_to_accuracy.py --data ../shared/data/mnist.npz \
        --recipe fast [--epochs N] [--target 0.9874] [--out tta-results]
"""

import argparse
import json
import pathlib
import platform
import time

import numpy as np

from hamax._cli._reproduce import curves_figure, machine, versions
from hamax.data import AUGMENTATIONS, load_mnist
from hamax.training import RECIPES, train_classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True, help="mnist.npz or its directory")
    ap.add_argument("--recipe", choices=list(RECIPES), default="fast")
    ap.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--target", type=float, default=0.9874)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="tta-results")
    args = ap.parse_args()
    recipe = RECIPES[args.recipe]
    epochs = args.epochs or recipe.epochs
    out = pathlib.Path(args.out) / f"{args.recipe}-{epochs}-seed{args.seed}"
    arrays = load_mnist(args.data, download=False)
    t0 = time.perf_counter()
    res = train_classifier(
        "hn_relu_mnist",
        arrays,
        epochs=epochs,
        recipe=recipe,
        batch_size=recipe.batch_size,
        augment=AUGMENTATIONS["mnist"] if recipe.augment else None,
        seed=args.seed,
        out_dir=out,
        resume=False,
    )
    wall = time.perf_counter() - t0
    hist = res.history
    train_s = np.cumsum([r["epoch_seconds"] for r in hist])
    hit = next(
        (i for i, r in enumerate(hist) if r["test_accuracy"] >= args.target), None
    )
    result = {
        "recipe": recipe.describe(epochs),
        "target": args.target,
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
    curves_figure(hist, out / "curve.png", 100 * args.target)
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
