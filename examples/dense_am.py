"""A Dense Associative Memory stores MNIST digits a classical Hopfield net cannot.

`hamax.zoo.make_dense_am` stores each pattern as one memory of a hidden layer
with a sharp separation function (here `Softmax(1.0)`, the modern Hopfield
network). Black-and-white MNIST digits are strongly correlated, which defeats
Hebb's rule: the classical network (`make_classical_hopfield`) on the same
digits falls into a mixture of them. The dense memory restores each digit
from a cue with a fifth of its pixels flipped, and completes digits whose
bottom half was erased.

    python examples/dense_am.py [--small] [--out DIR] [--data mnist.npz]
"""

import argparse
import pathlib

import matplotlib


matplotlib.use("Agg")  # write PNG files, no window
import matplotlib.pyplot as plt
import numpy as np

import hamax
from hamax import zoo
from hamax.lagrangians import Softmax


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    parser.add_argument("--data", default=None, help="mnist.npz or a directory")
    args = parser.parse_args(argv)
    num = 20 if args.small else 200
    data, _ = hamax.data.load_mnist_or_fallback(args.data)
    images = data["x_train"][:num].reshape(num, 784)
    patterns = np.where(images > 127, 1.0, -1.0).astype(np.float32)  # ink = +1

    dense = zoo.make_dense_am(memories=patterns, separation=Softmax(1.0))
    classical = zoo.make_classical_hopfield(patterns)

    rng = np.random.default_rng(0)
    flipped = np.where(rng.random(patterns.shape) < 0.2, -patterns, patterns)
    erased = patterns.copy()
    erased[:, 14 * 28 :] = -1.0  # bottom half (rows 14-27) set to background

    def overlap(restored):  # 1 = every pixel of the stored digit restored
        return (np.sign(np.asarray(restored)) * patterns).mean(1)

    dense_flipped = zoo.recall(dense, flipped)
    dense_erased = zoo.recall(dense, erased)
    classical_flipped = zoo.recall(classical, flipped)
    results = {
        "digits_stored": num,
        "dense_min_overlap_flipped": float(overlap(dense_flipped).min()),
        "dense_mean_overlap_erased": float(overlap(dense_erased).mean()),
        "classical_mean_overlap_flipped": float(overlap(classical_flipped).mean()),
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    show = slice(0, 8)
    rows = [flipped, dense_flipped, classical_flipped]
    hamax.plot.plot_image_grid(
        np.concatenate([np.asarray(r)[show] for r in rows]).reshape(-1, 28, 28),
        axes[0],
        ncols=8,
        title="cue (20% flipped) / dense AM / classical Hopfield",
    )
    rows = [erased, dense_erased, patterns]
    hamax.plot.plot_image_grid(
        np.concatenate([np.asarray(r)[show] for r in rows]).reshape(-1, 28, 28),
        axes[1],
        ncols=8,
        title="cue (bottom erased) / dense AM / stored digit",
    )
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "dense_am.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
