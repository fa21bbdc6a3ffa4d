"""The seeds' code runs as written with `import hamax.compat as hmx`."""

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import matplotlib
import numpy as np
import pytest


matplotlib.use("Agg")

import hamax.compat as hmx  # noqa: E402 - the only line changed from the seeds


def simple_fwd(model, x, depth, dt):
    """The paper's Code 3, as in the original registry's `simple_fwd` (verbatim
    apart from also returning the states)."""
    xs = model.init_states(x.shape[0])
    xs[0] = jnp.array(x)
    masks = jtu.tree_map(lambda x: jnp.ones_like(x, dtype=jnp.int8), xs)
    masks[0] = jnp.zeros_like(masks[0], dtype=jnp.int8)  # Don't evolve images
    for i in range(depth):
        updates = model.vupdates(xs)
        xs = model.step(xs, updates, dt=dt, masks=masks)
    return model.layers[-1].g(xs[-1]), xs


def test_code1_hn_with_hidden_layer():
    layers = [hmx.TanhLayer((784,)), hmx.SoftmaxLayer((10,))]
    synapses = [
        hmx.DenseMatrixSynapseWithHiddenLayer(
            1000, hidden_lagrangian=hmx._layers.L.ReLU(), do_norm=False
        )
    ]
    connections = [((0, 1), 0)]
    ham = hmx.HAM(layers, synapses, connections)
    xs, ham = ham.init_states_and_params(jax.random.PRNGKey(0), bs=5)
    assert [x.shape for x in xs] == [(5, 784), (5, 10)]
    assert (
        ham.n_layers == 2
        and ham.n_synapses == 1
        and ham.n_connections == 1
        and ham.layer_taus == [1.0, 1.0]
    )
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 784))
    probs, xs = simple_fwd(ham, x, depth=4, dt=0.4)
    assert probs.shape == (5, 10)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_code2_conv_ham_energy_decreases():
    layers = [
        hmx.TanhLayer((28, 28, 1), tau=1.0),
        hmx.TanhLayer((7, 7, 64), tau=1.0),
        hmx.TanhLayer((2, 2, 128), tau=1.0),
        hmx.SoftmaxLayer((10,), tau=1.0),
    ]
    synapses = [
        hmx.ConvSynapseWithPool(
            (4, 4),
            strides=(2, 2),
            padding=(2, 2),
            pool_window=(2, 2),
            pool_stride=(2, 2),
            pool_type="max",
        ),
        hmx.ConvSynapseWithPool(
            (3, 3),
            strides=(1, 1),
            padding=(0, 0),
            pool_window=(2, 2),
            pool_stride=(2, 2),
            pool_type="max",
        ),
        hmx.DenseMatrixSynapseWithHiddenLayer(1000),
    ]
    connections = [((0, 1), 0), ((1, 2), 1), ((2, 3), 2)]
    ham = hmx.HAM(layers, synapses, connections)
    xs, ham = ham.init_states_and_params(
        jax.random.PRNGKey(0), bs=3, state_key=jax.random.PRNGKey(1)
    )
    energies = [ham.venergy(xs)]
    masks = [jnp.zeros_like(xs[0])] + [jnp.ones_like(x) for x in xs[1:]]
    for _ in range(7):
        xs = ham.step(xs, ham.vupdates(xs), dt=0.05, masks=masks)
        energies.append(ham.venergy(xs))
    E = np.stack(energies)
    assert np.all(np.diff(E, axis=0) <= 1e-3 * np.abs(E[1:]))
    assert [x.shape for x in xs] == [
        (3, 28, 28, 1),
        (3, 7, 7, 64),
        (3, 2, 2, 128),
        (3, 10),
    ]
    np.testing.assert_array_equal(
        xs[0], ham.init_states(3, rng=jax.random.PRNGKey(1))[0]
    )


def test_readme_style_example_and_checkpoint(tmp_path):
    layers = [
        hmx.TanhLayer((32, 32, 3)),
        hmx.SigmoidLayer((11, 11, 100)),
        hmx.SoftmaxLayer((10,)),
    ]
    synapses = [
        hmx.ConvSynapse((3, 3), strides=3),
        hmx.DenseSynapse(),
        hmx.SelfAttentionSynapse(num_heads=2, zspace_dim=8),
    ]
    connections = [((0, 1), 0), ((1, 2), 1), ((1,), 2)]
    ham = hmx.HAM(layers, synapses, connections)
    xs, ham = ham.init_states_and_params(
        jax.random.PRNGKey(0), bs=2, state_key=jax.random.PRNGKey(3)
    )
    e0 = ham.venergy(xs)
    for _ in range(3):
        xs = ham.step(xs, ham.vupdates(xs), dt=0.01)
    assert np.all(ham.venergy(xs) <= e0)
    gs = ham.vactivations(xs)
    assert [g.shape for g in gs] == [x.shape for x in xs]
    one = [x[0] for x in xs]
    np.testing.assert_allclose(
        ham.energy(one),
        ham.layer_energy(one) + ham.synapse_energy(ham.activations(one)),
        rtol=1e-5,
    )
    ham.save_state_dict(tmp_path / "ham.ckpt")
    fresh = hmx.HAM(layers, synapses, connections)
    loaded = fresh.load_ckpt(tmp_path / "ham.ckpt")
    np.testing.assert_allclose(loaded.energy(one), ham.energy(one), rtol=1e-6)
    ax = ham.visualize()
    ax.figure.savefig(tmp_path / "ham.png")
    assert (tmp_path / "ham.png").stat().st_size > 5000


def test_newer_dict_api():
    neurons = {
        "image": hmx._layers.NeuronLayer(hmx._layers.L.lagr_tanh, (4,)),
        "label": hmx._layers.NeuronLayer(hmx._layers.L.lagr_softmax, (3,)),
    }
    synapses = {"s": hmx.LinearSynapse.rand_init(jax.random.PRNGKey(0), 4, 3)}
    ham = hmx.HAM(neurons, synapses, [(("image", "label"), "s")])
    vham = ham.vectorize()
    xs = {
        k: jax.random.normal(jax.random.PRNGKey(1), v.shape)
        for k, v in vham.init_states(bs=2).items()
    }
    xhats = vham.activations(xs)
    E, grads = vham.dEdact(xhats, xs, return_energy=True)
    assert E.shape == (2,) and grads["label"].shape == (2, 3)
    tree = vham.energy_tree(xhats, xs)
    np.testing.assert_allclose(sum(jtu.tree_leaves(tree)), E, rtol=1e-5)
    Fhat = hmx.legendre_transform(hmx._layers.L.lagr_tanh)
    x = jnp.array([0.3, -0.2])
    np.testing.assert_allclose(jax.grad(Fhat)(jnp.tanh(x), x), x, rtol=1e-6)
    assert ham.unvectorize().n_neurons == 2


@pytest.mark.parametrize(
    "build, match",
    [
        (
            lambda: hmx.HAM([hmx.TanhLayer(3)], [hmx.DenseSynapse()], [((0, 1), 0)]),
            r"HAM connection \(\(0, 1\), 0\) names layer 1, but there are 1 layers",
        ),
        (
            lambda: hmx.HAM([hmx.TanhLayer(3)], [], [((0,), 0)]),
            r"names synapse 0, but there are 0 synapses",
        ),
        (
            lambda: hmx.HAM([hmx.TanhLayer(3)], [], [(0, 1, 2)]),
            r"is malformed: the list API takes \(\(layer_index, ...\), synapse_index\)",
        ),
        (
            lambda: hmx.HAM([hmx.TanhLayer(3)], [], []).energy([jnp.zeros(3)]),
            r"This HAM has no parameters yet: call `xs, ham = ham.init_states_and_params",
        ),
        (
            lambda: hmx.AttentionSynapse(hidden_lagrangian=hmx._layers.L.ReLU()),
            r"AttentionSynapse supports a Softmax hidden Lagrangian only",
        ),
        (
            lambda: hmx.ConvSynapse(3, use_bias=True),
            r"ConvSynapse got unsupported arguments \['use_bias'\]",
        ),
    ],
)
def test_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()
