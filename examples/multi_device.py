"""Data-parallel training over several devices, shown on one CPU.

`hamax.training.train` (and `train_classifier`) split every batch along its
leading axis over a 1-D device mesh and keep the parameters replicated. On a
machine without accelerators, XLA can pretend the CPU is several devices: the
flag below must be set *before* JAX is imported, which is why this script sets
it at the very top. The same run on one device and on two differs only in the
order of float32 sums: the parameters agree to round-off at first, and while
those differences grow over many Adam steps (as between any two float32 runs
that sum in another order) the accuracy stays the same.

    python examples/multi_device.py [--small] [--out DIR] [--data mnist.npz]

On a machine with several GPUs, drop the flag: `jax.devices()` lists them.
"""

import os


# Two CPU devices, set before `import jax` (the flag is read once, at start-up).
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
)

import argparse
import pathlib

import jax
import matplotlib


matplotlib.use("Agg")  # write PNG files, no window
import matplotlib.pyplot as plt
import numpy as np

import hamax
from hamax import training


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    parser.add_argument("--data", default=None, help="mnist.npz or a directory")
    args = parser.parse_args(argv)
    data, _ = hamax.data.load_mnist_or_fallback(args.data)
    n_train, n_test, epochs = (2000, 500, 1) if args.small else (20000, 5000, 3)
    data = {
        "x_train": data["x_train"][:n_train],
        "y_train": data["y_train"][:n_train],
        "x_test": data["x_test"][:n_test],
        "y_test": data["y_test"][:n_test],
    }
    devices = jax.devices()
    print(f"devices: {len(devices)} ({', '.join(str(d) for d in devices)})")

    runs = {}
    for name, use in [("1 device", devices[:1]), (f"{len(devices)} devices", devices)]:
        runs[name] = training.train_classifier(
            "hn_relu_mnist",
            data,
            epochs=epochs,
            batch_size=100,  # split over the devices: a multiple of their number
            optim=training.adamw(3e-3),
            hyperparams={"num_hidden": 200},
            devices=use,
            progress=False,
        )
        for row in runs[name].history:
            accuracy = row["test_accuracy"]
            print(f"{name}, epoch {row['epoch']}: test accuracy {accuracy:.4f}")

    one, many = runs.values()
    W_one = np.asarray(one.ham.synapses["memories"].Ws[0])
    W_many = many.ham.synapses["memories"].Ws[0]
    results = {
        "num_devices": len(devices),
        "param_devices": len(W_many.sharding.device_set),  # replicated on each
        "max_param_diff_rel": float(
            np.abs(np.asarray(W_many) - W_one).max() / np.abs(W_one).max()
        ),
        "test_accuracy": float(many.history[-1]["test_accuracy"]),
        "accuracy_gap": abs(
            float(many.history[-1]["test_accuracy"] - one.history[-1]["test_accuracy"])
        ),
        "chance": 0.1,
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, run in runs.items():
        axes[0].plot(
            [r["epoch"] for r in run.history],
            [r["test_accuracy"] for r in run.history],
            "o-",
            label=name,
        )
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("test accuracy")
    axes[0].set_title("same training, 1 or 2 devices")
    axes[0].legend()
    axes[1].hist((np.asarray(W_many) - W_one).ravel(), bins=50)
    axes[1].set_yscale("log")
    axes[1].set_title("parameter difference, 2 devices - 1 device")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "multi_device.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
