"""A convolutional HAM: image -> conv+pool -> conv+pool -> memories -> label.

`hamax.zoo.make_conv_ham` builds the paper's Conv HAM: tanh layers joined by
convolution + max-pooling synapses (parameter shapes inferred from the layer
shapes) and a dense synapse with ReLU memories to the label. Here it is built
with fewer channels than the paper's MNIST model, so that it trains in a minute
on a CPU, with the generic trainer (`hamax.training.train`) and the
`Classification` objective. The figure shows the learned first-layer filters
and the energy of the whole network while test digits are classified.

    python examples/conv_ham.py [--small] [--out DIR] [--data mnist.npz]
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
from hamax import training, zoo


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    parser.add_argument("--data", default=None, help="mnist.npz or a directory")
    args = parser.parse_args(argv)
    data, _ = hamax.data.load_mnist_or_fallback(args.data)
    if args.small:
        n_train, n_test, epochs, channels, steps = 1000, 500, 3, (8, 16), 3
    else:
        n_train, n_test, epochs, channels, steps = 10000, 2000, 2, (16, 32), 7

    ham = zoo.make_conv_ham(
        (28, 28, 1),  # image: 28 x 28, one channel
        (7, 7, channels[0]),  # 4x4 conv, stride 2, padding 2, then 2x2 max pool
        (2, 2, channels[1]),  # 3x3 conv, then 2x2 max pool
        num_hidden=200,
        key=jax.random.key(0),
    )
    objective = training.Classification(dt=0.3, steps=steps)
    train_data = {
        "image": training.standardize(data["x_train"][:n_train], "mnist"),
        "label": data["y_train"][:n_train].astype(np.int32),
    }
    result = training.train(
        ham,
        objective,
        train_data,
        epochs=epochs,
        batch_size=100,
        optim=training.adamw(1e-2),
        progress=False,
    )
    ham = result.ham
    for row in result.history:
        print(f"epoch {row['epoch']}: train accuracy {row['train_accuracy']:.4f}")

    # Classify test digits: clamp each image, descend, read the label layer.
    @eqx.filter_jit
    def classify(ham, images):
        def one(image):
            system = ham.clamp({"image": image})
            sol = hamax.descend(
                system, system.init(), dt=0.3, steps=steps, save=hamax.Save(energy=True)
            )
            return sol.states["label"].argmax(), sol.energies

        return jax.vmap(one)(images)

    test_images = training.standardize(data["x_test"][:n_test], "mnist")
    chunks = [classify(ham, x) for x in np.split(test_images, n_test // 250)]
    predicted = np.concatenate([np.asarray(c[0]) for c in chunks])
    energies = np.concatenate([np.asarray(c[1]) for c in chunks])
    results = {
        "test_accuracy": float(np.mean(predicted == data["y_test"][:n_test])),
        "chance": 0.1,
        "energy_max_rise_rel": float(
            np.max(np.diff(energies, axis=1)) / np.max(np.abs(energies))
        ),
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    filters = np.asarray(ham.synapses["s1"].W)  # (4, 4, 1, channels): HWIO
    filters = filters.reshape(4, 4, -1).transpose(2, 0, 1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    hamax.plot.plot_image_grid(
        filters, axes[0], ncols=8, cmap="RdBu_r", title="first-layer filters, trained"
    )
    hamax.plot.plot_energy(
        energies, axes[1], title="energy while classifying test digits"
    )
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "conv_ham.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
