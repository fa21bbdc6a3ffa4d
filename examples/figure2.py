"""The paper's Figure 2: clamp a label, start the image from noise, recall a digit.

Retrieval runs the network backwards. The HN (SoftMax) stores training digits
in its memories (`hamax.memory.store_patterns`: each memory holds one z-scored
image, times 2, and its label, times 200, with no unit normalisation so the
recalled image is visible), is trained briefly to classify, and then recalls a
digit for each label at the paper's recipe: label clamped one-hot, image from
N(0, 1), hidden temperature lowered 10x, 15 steps of dt 0.4
(`hamax.memory.recall_labels`). Each recalled image is checked against
held-out training digits it never stored: the label of the most correlated one
should be the clamped label. `docs/associative_memory.md` explains the recipe.

    python examples/figure2.py [--small] [--out DIR] [--data mnist.npz]
"""

import argparse
import pathlib

import jax
import matplotlib


matplotlib.use("Agg")  # write PNG files, no window
import matplotlib.pyplot as plt
import numpy as np

import hamax
from hamax import training, zoo


def zscore(images) -> np.ndarray:
    """Each image flattened to zero mean and unit standard deviation."""
    x = np.asarray(images, np.float32).reshape(len(images), -1)
    x = x - x.mean(-1, keepdims=True)
    return x / (x.std(-1, keepdims=True) + 1e-8)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    parser.add_argument("--data", default=None, help="mnist.npz or a directory")
    args = parser.parse_args(argv)
    data, _ = hamax.data.load_mnist_or_fallback(args.data)
    num_memories, epochs = (200, 0) if args.small else (1000, 1)
    x, y = data["x_train"], data["y_train"].astype(np.int32)
    half = len(y) // 2  # memories come from the first half; checks use the second
    stored, reference = slice(0, num_memories), slice(half, len(y))

    ham = zoo.make_hn_softmax_beta5_mnist(
        num_hidden=num_memories, normalize=False, key=jax.random.key(0)
    )
    ham = hamax.memory.store_patterns(
        ham,
        {
            "image": 2.0 * zscore(x[stored]),
            "label": 200.0 * np.eye(10, dtype=np.float32)[y[stored]],
        },
    )
    if epochs:  # classification training changes the stored digits little
        train_data = {
            "image": training.standardize(x[:half], "mnist"),
            "label": y[:half],
        }
        result = training.train(
            ham,
            training.Classification(dt=0.4, steps=4),
            train_data,
            epochs=epochs,
            batch_size=400,
            limits=training.Limits(batches=50),
            progress=False,
        )
        ham = result.ham
        print(f"train accuracy: {result.history[-1]['train_accuracy']:.4f}")

    images, energies = hamax.memory.recall_labels(ham, range(10), key=jax.random.key(1))
    images, energies = np.asarray(images), np.asarray(energies)

    # Which digit is each recalled image? Ask held-out training digits.
    ref = zscore(x[reference])
    corr = zscore(images) @ ref.T / ref.shape[1]  # (10, n_reference) correlations
    nearest = y[reference][corr.argmax(1)]
    results = {
        "recalled_right_digit": int((nearest == np.arange(10)).sum()),
        "mean_best_correlation": float(corr.max(1).mean()),
        "activation_min": float(images.min()),
        "activation_max": float(images.max()),
        "energy_max_rise_rel": float(
            np.max(np.diff(energies, axis=1)) / np.max(np.abs(energies))
        ),
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    fig, axes = plt.subplots(
        1, 2, figsize=(13, 3.2), gridspec_kw={"width_ratios": [1, 3]}
    )
    hamax.plot.plot_energy(energies, axes[0], title="energy, label clamped")
    # A fixed [-1, 1] scale, as in the paper (tanh activations).
    axes[1].imshow(
        np.concatenate([im.reshape(28, 28) for im in images], axis=1),
        cmap="gray",
        vmin=-1,
        vmax=1,
    )
    axes[1].set_xticks(14 + 28 * np.arange(10), [str(i) for i in range(10)])
    axes[1].set_yticks([])
    axes[1].set_title("images recalled from noise for labels 0-9")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "figure2.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
