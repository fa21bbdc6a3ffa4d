"""The seeds' code runs as written with `import hamax.compat as hmx`."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import matplotlib
import numpy as np
import pytest

import hamax


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


def test_code1_readme_four_layer_ham():
    """The paper's Figure-1 HAM (4 layers, 3 synapses) as the HAMUX v0.1 README
    builds and runs it: list connections, `init_states_and_params` without a batch,
    `alphas`, `vdEdg`, `venergy`, `layers[i].activation`, both gradient recipes."""
    layers = [
        hmx.TanhLayer((32, 32, 3)),
        hmx.SigmoidLayer((11, 11, 1000)),
        hmx.SoftmaxLayer((10,)),
        hmx.SoftmaxLayer((1000,)),
    ]
    synapses = [
        hmx.ConvSynapse((3, 3), strides=3),
        hmx.DenseSynapse(),
        hmx.DenseSynapse(),
    ]
    connections = [([0, 1], 0), ([1, 3], 1), ([2, 3], 2)]
    rng = jax.random.PRNGKey(0)
    param_key, state_key, rng = jax.random.split(rng, 3)
    states, ham = hmx.HAM(layers, synapses, connections).init_states_and_params(
        param_key, state_key=state_key
    )
    assert len(states) == ham.n_layers == 4
    assert all(s.shape == layer.shape for s, layer in zip(states, ham.layers))

    def fwd(model, x, depth=15, dt=0.1):
        xs = model.init_states(x.shape[0])
        xs[0] = x
        energies = []
        for _ in range(depth):
            energies.append(model.venergy(xs))
            dEdg = model.vdEdg(xs)
            xs = jtu.tree_map(
                lambda x, stepsize, grad: x - stepsize * grad,
                xs,
                model.alphas(dt),
                dEdg,
            )
        return jnp.stack(energies), model.layers[-2].activation(xs[-2])

    x = jax.random.normal(jax.random.PRNGKey(2), (3, 32, 32, 3))
    energies, probs = fwd(ham, x, depth=20, dt=0.3)
    assert energies.shape == (20, 3) and probs.shape == (3, 10)
    assert bool(jnp.allclose(probs.sum(-1), 1))
    assert np.all(np.diff(np.asarray(energies), axis=0) <= 0)

    # "Naive" gradient w.r.t. states and the "smart" one w.r.t. activations.
    naive = jax.grad(ham.energy)(states)
    assert [n.shape for n in naive] == [s.shape for s in states]
    gs = ham.activations(states)
    syn = jax.grad(ham.synapse_energy)(gs)
    smart = jtu.tree_map(lambda x, d: x + d, states, syn)
    for a, b, u in zip(smart, ham.dEdg(states), ham.updates(states)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(u, -b)
    # dE/dx = J_g(x)^T dE/dg: for the element-wise tanh layer, sech^2 * dE/dg.
    np.testing.assert_allclose(
        naive[0], (1 - jnp.tanh(states[0]) ** 2) * smart[0], rtol=1e-4, atol=1e-6
    )


def test_code1_hn_with_hidden_layer():
    layers = [hmx.TanhLayer((784,)), hmx.SoftmaxLayer((10,))]
    synapses = [
        hmx.DenseMatrixSynapseWithHiddenLayer(
            1000, hidden_lagrangian=hmx.lagr_relu, do_norm=False
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
    np.testing.assert_array_equal(xs[0], x)  # the mask kept the image clamped


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
    np.testing.assert_allclose(
        ham.venergy(xs), ham.vlayer_energy(xs) + ham.vsynapse_energy(gs), rtol=1e-5
    )
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


class _ReadmeLinearSynapse(eqx.Module):
    """A user-defined synapse, as in the hamux 0.2 README (its sign included)."""

    W: jax.Array

    def __call__(self, xhat1, xhat2):
        return xhat1 @ self.W @ xhat2

    @classmethod
    def rand_init(cls, key, D1, D2):
        return cls(W=0.02 * jr.normal(key, (D1, D2)))


def test_hamux02_readme_how_to_use(tmp_path):
    """hamux 0.2's README "How to use": dict API, a user synapse, `vectorize`,
    `dEdact(..., return_energy=True)` and its (stale-activation) descent loop."""
    import matplotlib.pyplot as plt

    key = jr.key(0)
    nhid, nlabel, ninput = 9, 8, 7
    neurons = {
        "input": hmx.NeuronLayer(hmx.lagr_identity, (ninput,)),
        "labels": hmx.NeuronLayer(hmx.lagr_softmax, (nlabel,)),
        "hidden": hmx.NeuronLayer(hmx.lagr_softmax, (nhid,)),
    }
    synapses = {
        "dense1": _ReadmeLinearSynapse.rand_init(key, ninput, nhid),
        "dense2": _ReadmeLinearSynapse.rand_init(key, nlabel, nhid),
    }
    connections = [(("input", "hidden"), "dense1"), (("labels", "hidden"), "dense2")]
    ham = hmx.HAM(neurons, synapses, connections)

    xs = ham.init_states()
    xhats = ham.activations(xs)
    tree = ham.energy_tree(xhats, xs)
    # Closed form at zero states: softmax layers give -log(n); the label/hidden
    # synapse sees uniform activations.
    W2 = synapses["dense2"].W
    np.testing.assert_allclose(tree["neurons"]["hidden"], -np.log(nhid), rtol=1e-6)
    np.testing.assert_allclose(tree["neurons"]["labels"], -np.log(nlabel), rtol=1e-6)
    np.testing.assert_allclose(
        tree["connections"][1], W2.sum() / (nlabel * nhid), rtol=1e-5
    )
    E = ham.energy(xhats, xs)
    np.testing.assert_allclose(
        E, -np.log(nhid) - np.log(nlabel) + W2.sum() / (nlabel * nhid), rtol=1e-6
    )
    grads = ham.dEdact(xhats, xs)
    W1 = synapses["dense1"].W
    np.testing.assert_allclose(grads["input"], W1 @ xhats["hidden"], rtol=1e-5)

    vham = ham.vectorize()
    bs = 3
    xs = vham.init_states(bs)
    xhats = vham.activations(xs)
    np.testing.assert_allclose(vham.energy(xhats, xs), np.full(bs, E), rtol=1e-6)
    assert vham.dEdact(xhats, xs)["labels"].shape == (bs, nlabel)
    ham = vham.unvectorize()
    assert ham.n_neurons == 3 and ham.n_hypersynapses == 2

    rkey = jr.key(42)
    key_tree = dict(zip(xs.keys(), jr.split(rkey, len(xs))))
    xs = jtu.tree_map(lambda key, x: jr.normal(key, x.shape), key_tree, xs)
    xhats = vham.activations(xs)
    xs0 = xs
    nsteps, step_size = 40, 0.5
    energies = jnp.empty((nsteps, bs))
    for i in range(nsteps):
        energy, dEdxhats = vham.dEdact(xhats, xs, return_energy=True)
        energies = energies.at[i].set(energy)
        xs = jtu.tree_map(lambda x, u: x - step_size * u, xs, dEdxhats)
    assert np.all(np.diff(np.asarray(energies), axis=0) <= 1e-6)
    # Independent float64 reference of the same loop (activations stay stale).
    W1, W2 = (np.asarray(synapses[k].W, np.float64) for k in ("dense1", "dense2"))
    x = {k: np.asarray(v, np.float64) for k, v in xs0.items()}
    h = {k: np.asarray(v, np.float64) for k, v in xhats.items()}

    def lse(v):
        m = v.max(-1, keepdims=True)
        return (m + np.log(np.exp(v - m).sum(-1, keepdims=True)))[..., 0]

    for i in range(nsteps):
        E_ref = (
            (h["input"] * x["input"]).sum(-1)
            - 0.5 * (x["input"] ** 2).sum(-1)
            + (h["labels"] * x["labels"]).sum(-1)
            - lse(x["labels"])
            + (h["hidden"] * x["hidden"]).sum(-1)
            - lse(x["hidden"])
            + np.einsum("bi,ij,bj->b", h["input"], W1, h["hidden"])
            + np.einsum("bi,ij,bj->b", h["labels"], W2, h["hidden"])
        )
        np.testing.assert_allclose(energies[i], E_ref, rtol=1e-5, atol=1e-6)
        d = {
            "input": x["input"] + h["hidden"] @ W1.T,
            "labels": x["labels"] + h["hidden"] @ W2.T,
            "hidden": x["hidden"] + h["input"] @ W1 + h["labels"] @ W2,
        }
        x = {k: x[k] - step_size * d[k] for k in x}
    plt.plot(jnp.arange(nsteps), energies)
    plt.savefig(tmp_path / "energy.png")
    plt.close("all")
    assert (tmp_path / "energy.png").stat().st_size > 1000


def test_hamux02_neuron_layer_methods():
    layer = hmx.NeuronLayer(hmx.lagr_tanh, 4)
    core = layer.to_core()
    x = jnp.array([0.3, -0.2, 1.0, 0.0])
    g = layer.activations(x)
    np.testing.assert_allclose(g, jnp.tanh(x), rtol=1e-6)
    np.testing.assert_array_equal(layer.sigma(x), g)
    # hamux order is energy(xhat, x); the core layer's is energy(x, g).
    np.testing.assert_allclose(layer.energy(g, x), core.energy(x, g), rtol=1e-6)
    np.testing.assert_allclose(
        layer.E(g, x), jnp.sum(x * g) - jnp.sum(jnp.log(jnp.cosh(x))), rtol=1e-6
    )
    assert layer.init().shape == (4,) and layer.init(3).shape == (3, 4)
    assert layer.shape == (4,)
    with pytest.raises(ValueError, match="HAM neuron 'a' must be a NeuronLayer"):
        hmx.HAM({"a": hmx.lagr_tanh}, {}, [])


def test_hamux02_ham_is_an_equinox_module():
    """hamux 0.2 users train with `eqx.filter_grad` over the HAM: it must be a pytree
    whose leaves are the parameters."""
    neurons = {
        "image": hmx.NeuronLayer(hmx.lagr_tanh, (4,)),
        "label": hmx.NeuronLayer(hmx.lagr_softmax, (3,)),
    }
    synapses = {"s": hmx.LinearSynapse.rand_init(jax.random.PRNGKey(0), 4, 3)}
    vham = hmx.HAM(neurons, synapses, [(("image", "label"), "s")]).vectorize()
    xs = {
        k: jax.random.normal(jax.random.PRNGKey(1), v.shape)
        for k, v in vham.init_states(bs=2).items()
    }

    def loss(model, xs):
        return model.energy(model.activations(xs), xs).sum()

    grads = eqx.filter_jit(eqx.filter_grad(loss))(vham, xs)
    # E_syn = -sum_b g_image^T W g_label, so dL/dW = -sum_b outer(g_image, g_label).
    gs = vham.activations(xs)
    expected = -jnp.einsum("bi,bj->ij", gs["image"], gs["label"])
    np.testing.assert_allclose(grads.core.synapses["s"].W, expected, rtol=1e-5)
    assert isinstance(grads, hmx.DictHAM) and grads.batched


def test_newer_dict_api():
    neurons = {
        "image": hmx.NeuronLayer(hmx.lagr_tanh, (4,)),
        "label": hamax.NeuronLayer(hamax.lagrangians.Softmax(), (3,)),  # core layer
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
    Fhat = hmx.legendre_transform(hmx.lagr_tanh)
    x = jnp.array([0.3, -0.2])
    np.testing.assert_allclose(jax.grad(Fhat)(jnp.tanh(x), x), x, rtol=1e-6)
    assert ham.unvectorize().n_neurons == 2
    assert all(isinstance(v, hmx.NeuronLayer) for v in ham.neurons.values())
    b = hmx.BiasSynapse(jnp.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(b(jnp.array([1.0, 0.0, 1.0])), -4.0)


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
            lambda: hmx.AttentionSynapse(hidden_lagrangian=hmx.lagr_relu),
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
