"""The hamux 0.2 README's "How to use" loop, importable as `hamux` or as
`hamax.compat`, so both can be run and their printed energies compared:

    .venv/bin/python benchmarks/hamux02_readme.py hamax.compat
    bench-results/.hamux-venv/bin/python benchmarks/hamux02_readme.py hamux

(`make bench` creates the second venv.) Prints the energy of every 5th step.
"""

import importlib
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu


hmx = importlib.import_module(sys.argv[1] if len(sys.argv) > 1 else "hamax.compat")


class LinearSynapse(eqx.Module):
    W: jax.Array

    def __call__(self, xhat1, xhat2):
        return xhat1 @ self.W @ xhat2

    @classmethod
    def rand_init(cls, key, D1, D2):
        return cls(W=0.02 * jr.normal(key, (D1, D2)))


def main() -> None:
    key = jr.key(0)
    neurons = {
        "input": hmx.NeuronLayer(hmx.lagr_identity, (7,)),
        "labels": hmx.NeuronLayer(hmx.lagr_softmax, (8,)),
        "hidden": hmx.NeuronLayer(hmx.lagr_softmax, (9,)),
    }
    synapses = {
        "dense1": LinearSynapse.rand_init(key, 7, 9),
        "dense2": LinearSynapse.rand_init(key, 8, 9),
    }
    connections = [(("input", "hidden"), "dense1"), (("labels", "hidden"), "dense2")]
    vham = hmx.HAM(neurons, synapses, connections).vectorize()
    xs = vham.init_states(3)
    keys = dict(zip(xs.keys(), jr.split(jr.key(42), len(xs))))
    xs = jtu.tree_map(lambda k, x: jr.normal(k, x.shape), keys, xs)
    xhats = vham.activations(xs)
    for i in range(40):
        energy, grads = vham.dEdact(xhats, xs, return_energy=True)
        if i % 5 == 0 or i == 39:
            print(i, jnp.round(energy, 6))
        xs = jtu.tree_map(lambda x, u: x - 0.5 * u, xs, grads)


if __name__ == "__main__":
    main()
