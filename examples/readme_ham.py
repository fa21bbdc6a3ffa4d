"""The README's HAM: build it, clamp an image, descend, read the label.

A tanh image layer and a softmax label layer joined by one dense synapse with an
integrated hidden layer of ReLU memories. Clamping the image computes its drive
once; the label then descends the energy, which never increases. The same loop
written by hand with `system.step` gives the same states.

    python examples/readme_ham.py [--small] [--out DIR]
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
from hamax.lagrangians import ReLU, Softmax, Tanh
from hamax.synapses import DenseHiddenSynapse


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    args = parser.parse_args(argv)
    steps = 6 if args.small else 25

    ham = hamax.HAM(
        neurons={
            "image": hamax.NeuronLayer(Tanh(), 784),
            "label": hamax.NeuronLayer(Softmax(), 10),
        },
        synapses={"memories": DenseHiddenSynapse(1000, ReLU())},  # shapes inferred
        connections=[(("image", "label"), "memories")],
        key=jax.random.key(0),
    )
    image = jax.random.normal(jax.random.key(1), (784,))  # an image, standardised
    system = ham.clamp({"image": image})  # the image's drive is computed once, here
    sol = hamax.descend(
        system,
        system.init(),
        dt=0.4,
        steps=steps,
        save=hamax.Save(energy=True),
        check_monotone=True,  # raises if the energy ever rises beyond round-off
    )
    probs = ham.neurons["label"].activation(sol.states["label"])

    # The same dynamics as a loop you write: `system.step` inside `jax.jit` runs
    # the same math at the same speed (the clamped drive is reused by every step).
    @eqx.filter_jit
    def hand_loop(system, x):
        for _ in range(steps):
            x = system.step(x, dt=0.4)
        return x

    x = hand_loop(system, system.init())
    loop_gap = float(np.abs(np.asarray(x["label"] - sol.states["label"])).max())

    energies = np.asarray(sol.energies)
    results = {
        "steps": steps,
        "energy_start": float(energies[0]),
        "energy_end": float(energies[-1]),
        "energy_max_rise_rel": float(
            np.max(np.diff(energies)) / np.max(np.abs(energies))
        ),
        "probs_sum": float(probs.sum()),
        "predicted_label": int(np.argmax(probs)),
        "hand_loop_max_diff": loop_gap,
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    hamax.plot.plot_ham(ham, axes[0], title="the HAM")
    hamax.plot.plot_energy(energies, axes[1], title="energy, image clamped")
    axes[2].bar(range(10), np.asarray(probs))
    axes[2].set_xticks(range(10))
    axes[2].set_xlabel("label")
    axes[2].set_title("label activations (untrained)")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "readme_ham.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
