"""Equilibrium propagation against backpropagation through time, at equal epochs.

Trains a zoo classifier on MNIST through `hamax.training.train` (AdamW, the
paper protocol: learning rate 1e-3, batch 400, no augmentation) with one
gradient estimator and writes the per-epoch history (test accuracy, training
seconds per epoch) to `<out>/<model>-<estimator>.csv` and `.json`.

    # the paper's 4-step BPTT (rematerialised) baseline
    python benchmarks/eqprop.py --model hn_relu_mnist --estimator remat --epochs 5
    # EP: a longer free phase (the dynamics must settle), centered nudging
    python benchmarks/eqprop.py --model hn_relu_mnist --estimator eqprop \
        --free-steps 20 --nudged-steps 10 --beta 0.1 --nudging centered --epochs 5

`--time-limit` (seconds): no epoch starts that would end past it (`train`);
`--n-train` trains on the first N training images (the test set is always the
full 10,000). `--plot a.csv b.csv ... --png out.png` draws test accuracy
against epochs for finished runs.
"""

import argparse
import json
import pathlib
import time

import numpy as np

import hamax
from hamax.data import load_mnist
from hamax.training import (
    Classification,
    Limits,
    adamw,
    build_classifier,
    standardize,
    train,
)


HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "mnist.npz"
DT = {"hn_relu_mnist": 0.4, "conv_ham_mnist": 0.3}
STEPS = {"hn_relu_mnist": 4, "conv_ham_mnist": 7}  # the zoo's (paper's) depths


def objective(args) -> Classification:
    """The objective of one estimator, from the command line."""
    dt = DT[args.model]
    if args.estimator == "eqprop":
        est = hamax.EqProp(
            beta=args.beta,
            nudging=args.nudging,
            nudged=hamax.Steps(args.nudged_steps),
        )
        return Classification(dt=dt, steps=args.free_steps, adjoint=est)
    steps = args.free_steps or STEPS[args.model]
    if args.estimator == "implicit":
        stop = hamax.Converged(atol=1e-4, max_steps=steps)
        return Classification(dt=dt, stop=stop, adjoint=hamax.Implicit())
    adjoint = {"bptt": hamax.BPTT(), "remat": hamax.Remat()}[args.estimator]
    return Classification(dt=dt, steps=steps, adjoint=adjoint)


def run(args) -> None:
    arrays = load_mnist(args.data, download=False)
    n = args.n_train or len(arrays["y_train"])
    train_data = {
        "image": standardize(arrays["x_train"][:n], "mnist"),
        "label": np.asarray(arrays["y_train"][:n], np.int32),
    }
    test_data = {
        "image": standardize(arrays["x_test"], "mnist"),
        "label": np.asarray(arrays["y_test"], np.int32),
    }
    ham = build_classifier(args.model, seed=args.seed)
    obj = objective(args)
    t0 = time.perf_counter()
    res = train(
        ham,
        obj,
        train_data,
        test_data=test_data,
        epochs=args.epochs,
        batch_size=400,
        optim=adamw(1e-3),
        seed=args.seed,
        progress=False,
        limits=Limits(time=args.time_limit),
    )
    wall = time.perf_counter() - t0
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.model}-{args.tag or args.estimator}"
    rows = ["epoch,epoch_seconds,train_loss,test_loss,test_accuracy"]
    rows += [
        f"{r['epoch']},{r['epoch_seconds']:.1f},{r['train_loss']:.4f},"
        f"{r['test_loss']:.4f},{r['test_accuracy']:.4f}"
        for r in res.history
    ]
    (out / f"{stem}.csv").write_text("\n".join(rows) + "\n")
    meta = {
        "args": vars(args),
        "objective": repr(obj),
        "status": res.status,
        "run_wall_seconds": wall,
        "history": res.history,
        "loadavg": pathlib.Path("/proc/loadavg").read_text().split()[:3],
    }
    (out / f"{stem}.json").write_text(json.dumps(meta, indent=1, default=str))
    print("\n".join(rows))


def plot(paths, png) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for p in paths:
        d = np.genfromtxt(p, delimiter=",", names=True)
        d = np.atleast_1d(d)
        ax.plot(d["epoch"], 100 * d["test_accuracy"], "o-", label=pathlib.Path(p).stem)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", choices=list(DT), default="hn_relu_mnist")
    ap.add_argument(
        "--estimator", choices=("eqprop", "bptt", "remat", "implicit"), default="eqprop"
    )
    ap.add_argument("--free-steps", type=int, default=0, help="0: the zoo's depth")
    ap.add_argument("--nudged-steps", type=int, default=10)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--nudging", default="centered")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--n-train", type=int, default=0, help="0: all 60,000")
    ap.add_argument("--time-limit", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--out", default="eqprop-results")
    ap.add_argument("--tag", default="", help="file name suffix (default: estimator)")
    ap.add_argument("--plot", nargs="+", help="csv files of finished runs to draw")
    ap.add_argument("--png", default="eqprop.png")
    args = ap.parse_args()
    if args.plot:
        plot(args.plot, args.png)
        return
    if args.estimator == "eqprop" and args.free_steps == 0:
        ap.error("--estimator eqprop needs --free-steps (the free phase must settle)")
    run(args)


if __name__ == "__main__":
    main()
