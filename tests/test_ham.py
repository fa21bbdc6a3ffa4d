import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import numpy as np
from hypothesis import example, given, settings, strategies as st

import hamax
import hamax.lagrangians as L
from hamax.synapses import DenseSynapse

from .helpers import _plain_energy, tiny_ham, tree_allclose


def test_energy_equals_sum_of_tree(getkey):
    ham = tiny_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    tree = ham.energy_tree(xs)
    assert set(tree["neurons"]) == set(ham.neurons)
    assert len(tree["connections"]) == ham.n_connections
    np.testing.assert_allclose(ham.energy(xs), sum(jtu.tree_leaves(tree)), rtol=1e-13)
    np.testing.assert_allclose(
        ham.energy(xs), _plain_energy(ham, xs, ham.activations(xs)), rtol=1e-13
    )


def test_dense_energy_closed_form(getkey):
    ham = hamax.HAM(
        {
            "a": hamax.NeuronLayer(L.Identity(), 3),
            "b": hamax.NeuronLayer(L.Identity(), (2, 2)),
        },
        {"w": DenseSynapse()},
        [(("a", "b"), "w")],
        key=getkey(),
    )
    W = np.asarray(ham.synapses["w"].W)
    assert W.shape == (3, 4)  # inferred from the layers
    xs = ham.init_states(scale=1.0, key=getkey())
    a, b = np.asarray(xs["a"]), np.asarray(xs["b"]).reshape(-1)
    ref = 0.5 * (a @ a) + 0.5 * (b @ b) - a @ W @ b  # identity layers: E = 1/2 x^2
    np.testing.assert_allclose(ham.energy(xs), ref, rtol=1e-12)


def test_energy_grad_equals_autodiff(getkey):
    ham = tiny_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    gs = ham.activations(xs)
    ref = jax.grad(lambda g: _plain_energy(ham, xs, g))(gs)
    assert tree_allclose(ham.energy_grad(xs), ref, rtol=1e-10, atol=1e-12)
    auto = jax.grad(lambda g: ham.energy(xs, g))(gs)
    assert tree_allclose(auto, ref, rtol=1e-10, atol=1e-12)
    sub = ham.energy_grad(xs, layers=["label"])
    assert set(sub) == {"label"}
    np.testing.assert_allclose(sub["label"], ref["label"], rtol=1e-10)


def test_jit_and_vmap_match_eager(getkey):
    ham = tiny_ham(getkey())
    batch = jax.vmap(lambda k: ham.init_states(scale=1.0, key=k))(jr.split(getkey(), 5))

    def item(tree, i):
        return jtu.tree_map(lambda x: x[i], tree)

    eager = [ham.energy(item(batch, i)) for i in range(5)]
    batched = jax.jit(jax.vmap(ham.energy))(batch)
    np.testing.assert_allclose(batched, np.stack(eager), rtol=1e-12)
    grads = jax.jit(jax.vmap(ham.energy_grad))(batch)
    for i in range(5):
        one = ham.energy_grad(item(batch, i))
        assert tree_allclose(item(grads, i), one, rtol=1e-12)


def test_grad_wrt_parameters_matches_finite_differences(getkey):
    ham = tiny_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    W = ham.synapses["d2"].W

    def f(W):
        return ham.__class__(
            ham.neurons, {**ham.synapses, "d2": DenseSynapse(W=W)}, ham.connections
        ).energy(xs)

    g = jax.grad(f)(W)
    E = np.zeros(W.shape)
    E[1, 2] = 1e-6
    fd = (f(W + E) - f(W - E)) / 2e-6
    np.testing.assert_allclose(g[1, 2], fd, rtol=1e-7)


def test_float32_preserved(getkey):
    ham = tiny_ham(getkey(), dtype=jnp.float32)
    xs = ham.init_states(dtype=jnp.float32, scale=1.0, key=getkey())
    assert ham.synapses["d1"].W.dtype == jnp.float32
    assert ham.energy(xs).dtype == jnp.float32
    assert all(v.dtype == jnp.float32 for v in ham.energy_grad(xs).values())


def test_custom_module_synapse_and_counts(getkey):
    import equinox as eqx

    class Quadratic(eqx.Module):
        scale: jax.Array

        def __call__(self, g):
            return self.scale * jnp.sum(g**2)

    ham = hamax.HAM(
        {"a": hamax.NeuronLayer(L.Tanh(), 4)},
        {"q": Quadratic(jnp.asarray(0.3))},
        [(("a",), "q")],
    )
    assert (ham.n_neurons, ham.n_synapses, ham.n_connections) == (1, 1, 1)
    assert ham.taus == {"a": 1.0}
    xs = ham.init_states(scale=1.0, key=getkey())
    g = jnp.tanh(xs["a"])
    np.testing.assert_allclose(ham.energy_grad(xs)["a"], xs["a"] + 0.6 * g, rtol=1e-12)


LAGS = [
    L.Identity(),
    L.ReLU(),
    L.Tanh(),
    L.Sigmoid(),
    L.Softmax(),
    # eps 0.01, not 1e-5: explicit steps descend only below the inverse curvature,
    # and a 2-unit LayerNorm with eps 1e-5 (curvature about D * gamma / sqrt(eps),
    # 600) made dt / tau = 0.02 climb (a counterexample hypothesis found).
    L.LayerNorm(eps=0.01),
    L.SphericalNorm(eps=0.01),
    L.Ghostmax(),
    L.RePU(),
]


@st.composite
def random_graphs(draw):
    """A random hypergraph spec: layers (Lagrangian, shape, tau) and dense pairs."""
    n = draw(st.integers(1, 4))
    layers = [
        (
            draw(st.integers(0, len(LAGS) - 1)),
            draw(st.sampled_from([2, 3, (2, 2)])),
            draw(st.sampled_from([0.5, 1.0, 2.0])),
        )
        for _ in range(n)
    ]
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
            min_size=1,
            max_size=5,
        )
    )
    return layers, pairs, draw(st.integers(0, 2**16))


def build(spec):
    layers, pairs, seed = spec
    neurons = {
        f"l{i}": hamax.NeuronLayer(LAGS[lag], shape, tau=tau)
        for i, (lag, shape, tau) in enumerate(layers)
    }
    synapses = {f"s{i}": DenseSynapse(init_std=0.5) for i in range(len(pairs))}
    connections = [((f"l{a}", f"l{b}"), f"s{i}") for i, (a, b) in enumerate(pairs)]
    return hamax.HAM(neurons, synapses, connections, key=jr.key(seed)), seed


@eqx.filter_jit
def _scanned_descent(ham, xs, dt, steps):
    # `naive_descent`'s loop (plain autodiff of the energy, no custom JVP) as
    # one compiled scan: one small compile per graph instead of the eager
    # dispatch of every op at every step; the energies are the same numbers.
    def body(xs, _):
        gs = ham.activations(xs)
        grads = jax.grad(_plain_energy, argnums=2)(ham, xs, gs)
        xs = {k: xs[k] - dt / ham.neurons[k].tau * grads[k] for k in xs}
        return xs, ham.energy(xs)

    _, traj = jax.lax.scan(body, xs, None, length=steps)
    return jnp.concatenate([ham.energy(xs)[None], traj])


@settings(max_examples=15, deadline=None)
@given(random_graphs())
@example(([(5, 2, 0.5), (0, 2, 0.5)], [(0, 0)], 48236))  # climbed with eps 1e-5
def test_energy_never_increases_under_small_step_descent(spec):
    ham, seed = build(spec)
    xs = ham.init_states(scale=1.0, key=jr.key(seed + 1))
    energies = _scanned_descent(ham, xs, dt=0.01, steps=15)
    diffs = np.diff(np.asarray(energies))
    assert np.all(diffs <= 1e-10 * (1 + np.abs(np.asarray(energies[:-1])))), diffs
