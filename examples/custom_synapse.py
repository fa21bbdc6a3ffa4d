"""A custom synapse: write an energy, get dynamics and training for free.

A synapse is any scalar energy of the activations it connects (lower = more
aligned). This one is a low-rank bilinear coupling, E = -(Uᵀg₁)·(Vᵀg₂), i.e. a
dense synapse whose weight matrix UVᵀ has rank `rank`. Subclassing
`hamax.synapses.AbstractSynapse` and writing `init` lets the HAM infer the
parameter shapes from the layers it connects. Nothing else is needed: the
gradient the dynamics use comes from autodiff (checked here against the
hand-derived formula), and the generic trainer learns U and V.

    python examples/custom_synapse.py [--small] [--out DIR] [--data mnist.npz]
"""

import argparse
import math
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib


matplotlib.use("Agg")  # write PNG files, no window
import matplotlib.pyplot as plt
import numpy as np

import hamax
from hamax import training
from hamax.lagrangians import Softmax, Tanh
from hamax.synapses import AbstractSynapse


class LowRankSynapse(AbstractSynapse):
    """E = -(Uᵀg₁)·(Vᵀg₂) between two layers (flattened); rank-`rank` weights."""

    arity = 2  # connects two layers
    rank: int = eqx.field(static=True)
    U: jax.Array | None = None
    V: jax.Array | None = None

    @property
    def is_initialized(self) -> bool:
        return self.U is not None

    def init(self, shapes, *, dtype=None, key):
        # Called by HAM with the shapes of the connected layers.
        d1, d2 = (math.prod(s) for s in shapes)
        dtype = jnp.zeros((), dtype).dtype  # float32 unless told otherwise
        k1, k2 = jax.random.split(key)
        U = jax.random.normal(k1, (d1, self.rank), dtype) / math.sqrt(d1)
        V = jax.random.normal(k2, (d2, self.rank), dtype) / math.sqrt(self.rank)
        return LowRankSynapse(self.rank, U, V)

    @property
    def W(self) -> jax.Array:
        """The full weight matrix UVᵀ (for inspection; never formed in `__call__`)."""
        assert self.U is not None and self.V is not None  # set by init
        return self.U @ self.V.T

    def __call__(self, g1, g2):
        assert self.U is not None and self.V is not None  # set by init
        return -jnp.dot(g1.reshape(-1) @ self.U, g2.reshape(-1) @ self.V)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    parser.add_argument("--data", default=None, help="mnist.npz or a directory")
    args = parser.parse_args(argv)
    data, _ = hamax.data.load_mnist_or_fallback(args.data)
    n_train, n_test, epochs = (2000, 500, 1) if args.small else (20000, 5000, 3)

    ham = hamax.HAM(
        neurons={
            "image": hamax.NeuronLayer(Tanh(), (28, 28, 1)),
            "label": hamax.NeuronLayer(Softmax(), 10),
        },
        synapses={"lowrank": LowRankSynapse(rank=8)},  # U, V shapes inferred
        connections=[(("image", "label"), "lowrank")],
        key=jax.random.key(0),
    )

    # Autodiff gives the gradient the dynamics follow: dE/dg2 = -(UVᵀ)ᵀ g1.
    g = ham.activations(ham.init_states(key=jax.random.key(1)))
    syn = ham.synapses["lowrank"]
    assert isinstance(syn, LowRankSynapse)
    autodiff = jax.grad(syn, argnums=1)(g["image"], g["label"])
    by_hand = -syn.W.T @ g["image"].reshape(-1)
    grad_error = float(jnp.abs(autodiff - by_hand).max())

    result = training.train(
        ham,
        training.Classification(dt=0.5, steps=4),
        {
            "image": training.standardize(data["x_train"][:n_train], "mnist"),
            "label": data["y_train"][:n_train].astype(np.int32),
        },
        test_data={
            "image": training.standardize(data["x_test"][:n_test], "mnist"),
            "label": data["y_test"][:n_test].astype(np.int32),
        },
        epochs=epochs,
        batch_size=100,
        optim=training.adamw(3e-3),
        progress=False,
    )
    ham = result.ham
    for row in result.history:
        print(f"epoch {row['epoch']}: test accuracy {row['test_accuracy']:.4f}")
    results = {
        "grad_autodiff_vs_hand_max_diff": grad_error,
        "test_accuracy": float(result.history[-1]["test_accuracy"]),
        "chance": 0.1,
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    # What each label "sees": column k of UVᵀ, as an image.
    syn = ham.synapses["lowrank"]
    assert isinstance(syn, LowRankSynapse)
    templates = np.asarray(syn.W).T.reshape(10, 28, 28)
    fig, axes = plt.subplots(
        1, 2, figsize=(12, 3.2), gridspec_kw={"width_ratios": [3, 1]}
    )
    hamax.plot.plot_image_grid(
        templates, axes[0], ncols=10, titles=list(range(10)), cmap="RdBu_r"
    )
    axes[0].set_title("learned weights UVᵀ from the image to each label", pad=16)
    hamax.plot.plot_ham(ham, axes[1], title="the HAM")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "custom_synapse.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
