"""An Energy Transformer block: attention and Hopfield memories as one energy.

`hamax.zoo.make_energy_transformer` builds the block of Hoover et al. (2023):
one layer of tokens with a LayerNorm Lagrangian, a multi-head self-attention
synapse (tokens attend to each other) and a per-token dense synapse with ReLU
memories (a Hopfield network applied to every token). Instead of a stack of
layers, the tokens descend one energy until they settle: the descent runs with
a convergence test (`hamax.Converged`) and records every energy term
(`hamax.Save(components=True)`), so the figure shows how attention and memory
energies trade off on the way to the fixed point.

    python examples/energy_transformer.py [--small] [--out DIR]
"""

import argparse
import pathlib

import equinox as eqx
import jax
import jax.numpy as jnp
import matplotlib


matplotlib.use("Agg")  # write PNG files, no window
import matplotlib.pyplot as plt
import numpy as np

import hamax
from hamax import zoo


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny settings (tests)")
    parser.add_argument("--out", default="examples-output", help="figure directory")
    args = parser.parse_args(argv)
    num_tokens, dim = (8, 16) if args.small else (16, 32)
    key_model, key_tokens = jax.random.split(jax.random.key(0))

    ham = zoo.make_energy_transformer(num_tokens, dim, key=key_model)
    tokens = jax.random.normal(key_tokens, (num_tokens, dim))
    sol = hamax.descend(
        ham,
        {"tokens": tokens},
        dt=0.5,
        # Settled when no state moves by more than 1e-3 of the largest state.
        stop=hamax.Converged(atol=0.0, rtol=1e-3, max_steps=1000),
        save=hamax.Save(energy=True, components=True),
        check_monotone=True,  # raises if the energy ever rises beyond round-off
    )
    steps = int(sol.num_steps)
    energies = np.asarray(sol.energies)[: steps + 1]
    components = jax.tree_util.tree_map(
        lambda e: np.asarray(e)[: steps + 1], sol.energy_components
    )
    # dE/dg, zero at a fixed point (jitted: one compilation for both calls).
    energy_grad = eqx.filter_jit(lambda ham, x: ham.energy_grad(x)["tokens"])
    grad_start = energy_grad(ham, {"tokens": tokens})
    grad_end = energy_grad(ham, sol.states)
    results = {
        "converged": bool(sol.converged),
        "steps": steps,
        "energy_start": float(energies[0]),
        "energy_end": float(energies[-1]),
        "energy_max_rise_rel": float(
            np.max(np.diff(energies)) / np.max(np.abs(energies))
        ),
        "grad_norm_ratio": float(
            jnp.linalg.norm(grad_end) / jnp.linalg.norm(grad_start)
        ),
    }
    for name, value in results.items():
        print(f"{name}: {value:.4g}")

    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    hamax.plot.plot_energy(energies, axes[0], title="total energy")
    names = {"['neurons']['tokens']": "tokens (LayerNorm layer)"}
    for i, (_, synapse) in enumerate(ham.connections):
        names[f"['connections'][{i}]"] = f"{synapse} synapse"
    for path, series in jax.tree_util.tree_leaves_with_path(components):
        name = names.get(jax.tree_util.keystr(path), jax.tree_util.keystr(path))
        axes[1].plot(series - series[0], label=name)
    axes[1].set_xlabel("step")
    axes[1].set_title("change of each energy term")
    axes[1].legend(fontsize=7)
    g_start = ham.neurons["tokens"].activation(tokens)
    g_end = ham.neurons["tokens"].activation(sol.states["tokens"])
    axes[2].imshow(
        np.concatenate([g_start, g_end], axis=0), cmap="RdBu_r", aspect="auto"
    )
    axes[2].axhline(num_tokens - 0.5, color="k")
    axes[2].set_title("token activations: start (top), fixed point (bottom)")
    axes[2].set_xlabel("feature")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "energy_transformer.png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return results


if __name__ == "__main__":
    main()
