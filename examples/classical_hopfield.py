"""A classical Hopfield network: store ±1 patterns by Hebb's rule, recall them.

`hamax.zoo.make_classical_hopfield` builds one tanh layer with a symmetric
Hebbian self-connection. A few patterns are stored, corrupted (a quarter of
their bits flipped) and restored by descending the energy from the corrupted
cue with `hamax.zoo.recall`. Storing more and more patterns shows the classical
capacity limit: recall fails beyond about 0.14 patterns per neuron.

    python examples/classical_hopfield.py [--small] [--out DIR]
"""

import argparse
import pathlib

import jax.numpy as jnp
import matplotlib


matplotlib.use("Agg")  # write PNG files, no window
import matplotlib.pyplot as plt
import numpy as np

import hamax
from hamax import zoo


def corrupt(patterns: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Flip `fraction` of the entries of each ±1 pattern, chosen at random."""
    flips = rng.random(patterns.shape) < fraction
    return np.where(flips, -patterns, patterns)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    args = parser.parse_args(argv)
    side = 10 if args.small else 16  # each pattern is a side x side picture
    n = side * side
    rng = np.random.default_rng(0)

    # Store a few patterns (well under capacity) and restore corrupted copies.
    patterns = rng.choice([-1.0, 1.0], size=(6, n)).astype(np.float32)
    ham = zoo.make_classical_hopfield(patterns)
    cues = corrupt(patterns, 0.25, rng)
    restored = np.asarray(zoo.recall(ham, cues))
    overlaps = (np.sign(restored) * patterns).mean(1)  # 1 = pattern restored

    # The energy along one recall (the cue is the initial state of layer "x").
    sol = hamax.descend(
        ham, {"x": jnp.asarray(cues[0])}, dt=0.5, steps=40, save=hamax.Save(energy=True)
    )
    energies = np.asarray(sol.energies)

    # Capacity: the fraction of patterns recalled exactly from 10%-corrupted cues.
    loads = [0.05, 0.1, 0.2] if args.small else np.arange(0.02, 0.32, 0.02)
    recalled = []
    for load in loads:
        stored = rng.choice([-1.0, 1.0], size=(max(1, round(load * n)), n))
        stored = stored.astype(np.float32)
        memory = zoo.make_classical_hopfield(stored)
        recall = np.asarray(zoo.recall(memory, corrupt(stored, 0.1, rng)))
        recalled.append(float(np.mean(np.all(np.sign(recall) == stored, axis=1))))

    results = {
        "neurons": n,
        "patterns": len(patterns),
        "min_overlap": float(overlaps.min()),
        "mean_overlap": float(overlaps.mean()),
        "energy_max_rise_rel": float(
            np.max(np.diff(energies)) / np.max(np.abs(energies))
        ),
        "recalled_at_lowest_load": recalled[0],
        "recalled_at_highest_load": recalled[-1],
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    rows = np.concatenate([patterns[:4], cues[:4], restored[:4]])
    hamax.plot.plot_image_grid(
        rows.reshape(-1, side, side),
        axes[0],
        ncols=4,
        title="stored / corrupted cue / recalled",
    )
    hamax.plot.plot_energy(energies, axes[1], title="energy during one recall")
    axes[2].plot(loads, recalled, "o-")
    axes[2].axvline(0.138, color="gray", ls="--", label="capacity 0.138 N")
    axes[2].set_xlabel("patterns per neuron")
    axes[2].set_ylabel("fraction recalled exactly")
    axes[2].set_title("capacity")
    axes[2].legend()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "classical_hopfield.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
