"""Train the paper's HN (ReLU) to classify MNIST: classification is association.

The zoo's `hn_relu_mnist` (784 tanh image neurons, 10 softmax label neurons,
1000 ReLU memories) is trained by backpropagation through its dynamics: clamp
the image, descend 4 steps of dt 0.4, cross-entropy on the label layer. The
figure shows accuracy per epoch, the energy while test digits are classified,
and test digits with the label the network associates with them.

    python examples/train_hn.py [--small] [--out DIR] [--data mnist.npz]
"""

import argparse
import pathlib

import equinox as eqx
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
    if args.small:  # a few thousand digits, a smaller memory, one epoch
        n_train, n_test, epochs, hyper = 3000, 500, 1, {"num_hidden": 200}
        batch_size = 100
    else:  # the whole training set, the paper's model
        n_train, n_test, epochs, hyper = 60000, 10000, 3, {}
        batch_size = 400
    data = {
        "x_train": data["x_train"][:n_train],
        "y_train": data["y_train"][:n_train],
        "x_test": data["x_test"][:n_test],
        "y_test": data["y_test"][:n_test],
    }

    result = training.train_classifier(
        "hn_relu_mnist",
        data,
        epochs=epochs,
        batch_size=batch_size,
        optim=training.adamw(3e-3 if args.small else 1e-3),
        hyperparams=hyper,
        progress=False,
    )
    ham = result.ham
    for row in result.history:
        print(
            f"epoch {row['epoch']}: train accuracy {row['train_accuracy']:.4f}, "
            f"test accuracy {row['test_accuracy']:.4f}"
        )

    # Classification is association: clamp a test image, let the label descend.
    objective = training.zoo_objective("hn_relu_mnist")
    images = training.standardize(data["x_test"][:16], "mnist").reshape(16, 784)

    @eqx.filter_jit
    def classify(ham, images):
        def one(image):
            system = ham.clamp({"image": image})
            sol = hamax.descend(
                system,
                system.init(),
                dt=objective.dt,
                steps=objective.steps,
                save=hamax.Save(energy=True),
            )
            return sol.states["label"], sol.energies

        return jax.vmap(one)(images)

    labels, energies = classify(ham, images)
    predicted = np.asarray(labels.argmax(-1))
    energies = np.asarray(energies)
    results = {
        "test_accuracy": float(result.history[-1]["test_accuracy"]),
        "chance": 0.1,
        "energy_max_rise_rel": float(
            np.max(np.diff(energies, axis=1)) / np.max(np.abs(energies))
        ),
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    fig, axes = plt.subplots(
        1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [1, 1, 1.6]}
    )
    hamax.plot.plot_history(result.history, axes[0])
    axes[0].set_title("accuracy per epoch")
    hamax.plot.plot_energy(energies, axes[1], title="energy while classifying")
    hamax.plot.plot_image_grid(
        data["x_test"][:10],
        axes[2],
        ncols=10,
        titles=[f"{p}" for p in predicted[:10]],
    )
    axes[2].set_title("test digits and the label they recall", pad=16)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "train_hn.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
