"""Pattern completion on MNIST: a HAM trained with the Completion objective fills
in the bottom half of test digits. Writes the figure shown in
docs/associative_memory.md.

    python benchmarks/completion.py --data ../shared/data/mnist.npz --out docs/img
"""

import argparse
import pathlib

import jax.numpy as jnp
import jax.random as jr
import numpy as np

import hamax
from hamax import lagrangians as L, synapses as S, training as T


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", required=True, help="mnist.npz")
    p.add_argument("--out", default="bench-results/completion")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train", type=int, default=10000, help="training images")
    args = p.parse_args()
    with np.load(args.data) as f:
        x_train = T.standardize(f["x_train"][: args.train], "mnist")
        x_test = T.standardize(f["x_test"][:1000], "mnist")
    ham = hamax.HAM(
        {"image": hamax.NeuronLayer(L.Tanh(), (28, 28, 1))},
        {"memories": S.DenseHiddenSynapse(200, L.ReLU())},
        [(("image",), "memories")],
        key=jr.key(0),
        dtype=jnp.float32,
    )
    observed = jnp.zeros((28, 28, 1), bool).at[:14].set(True)
    objective = T.Completion(target="image", mask=observed, dt=0.5, steps=8)
    before = T.evaluate(ham, objective, {"image": x_test})["mse"]
    res = T.train(
        ham,
        objective,
        {"image": x_train},
        test_data={"image": x_test},
        epochs=args.epochs,
        batch_size=100,
        optim=T.adamw(3e-3),
    )
    after = res.history[-1]["test_mse"]
    x = objective.complete(res.ham, {"image": jnp.asarray(x_test[:8])})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 8, figsize=(10, 4))
    masked = np.where(np.asarray(observed), np.tanh(x_test[:8]), 0.0)
    for j in range(8):
        for i, (img, name) in enumerate(
            (
                (np.tanh(x_test[j]), "truth"),
                (masked[j], "observed"),
                (np.tanh(np.asarray(x[j])), "completed"),
            )
        ):
            axes[i, j].imshow(img[..., 0], cmap="gray", vmin=-1, vmax=1)
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if j == 0:
                axes[i, j].set_ylabel(name)
    fig.suptitle(
        f"bottom half completed: test MSE {before:.3f} untrained -> {after:.3f}"
    )
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "completion.png", dpi=100, bbox_inches="tight")
    print(f"test MSE of the hidden half: untrained {before:.4f}, trained {after:.4f}")
    print(f"wrote {out / 'completion.png'}")


if __name__ == "__main__":
    main()
