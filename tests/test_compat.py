"""hamax.compat: one copy of every parameter in the list HAM, attention as in the
core, the per-version namespaces (v01, v02) and their errors. The seeds'
listings themselves run in tests/test_compat_seeds_*.py, read from the seeds."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
import matplotlib
import numpy as np
import optax
import pytest

import hamax
import hamax.compat as hmx
import hamax.compat.v01 as v01
import hamax.compat.v02 as v02


matplotlib.use("Agg")


def _small_list_ham():
    layers = [v01.TanhLayer((6,)), v01.SoftmaxLayer((3,))]
    synapses = [v01.DenseMatrixSynapseWithHiddenLayer(5, hidden_lagrangian=v01.LRelu())]
    return v01.HAM(layers, synapses, [((0, 1), 0)])


def _arrays(tree):
    return jtu.tree_leaves(eqx.filter(tree, eqx.is_array))


def test_list_ham_holds_one_copy_and_trains_through_the_seeds_api():
    """Issue #14 item 4: gradients, optimiser state and step/vupdates see one
    copy of each parameter."""
    _, ham = _small_list_ham().init_states_and_params(jr.PRNGKey(0))
    assert len(_arrays(ham)) == len(_arrays(ham.core))
    assert ham.synapses[0] is ham.core.synapses["synapse0"]
    assert ham.layers[1] is ham.core.neurons["layer1"]
    x = jr.normal(jr.PRNGKey(1), (4, 6))
    labels = jnp.array([0, 1, 2, 0])

    def loss(model):
        xs = model.init_states(x.shape[0])
        xs[0] = x
        masks = [jnp.zeros_like(xs[0]), jnp.ones_like(xs[1])]
        for _ in range(3):
            xs = model.step(xs, model.vupdates(xs), dt=0.5, masks=masks)
        logp = jnp.log(model.layers[-1].g(xs[-1]))
        return -jnp.mean(logp[jnp.arange(4), labels])

    opt = optax.adam(1e-2)
    params = eqx.filter(ham, eqx.is_inexact_array)
    state = opt.init(params)
    assert len(_arrays(state)) == 1 + 2 * len(_arrays(ham))  # count, mu, nu
    before = np.asarray(ham.core.synapses["synapse0"].memories()[0])
    losses = []
    for _ in range(4):
        value, grads = eqx.filter_value_and_grad(loss)(ham)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int32 counts
            updates, state = opt.update(grads, state, params)
        ham = eqx.apply_updates(ham, updates)
        params = eqx.filter(ham, eqx.is_inexact_array)
        losses.append(float(value))
    after = ham.core.synapses["synapse0"].memories()[0]
    assert not np.allclose(before, after)
    np.testing.assert_array_equal(ham.synapses[0].memories()[0], after)  # seeds' view
    assert losses[-1] < losses[0]
    assert len(_arrays(ham)) == len(_arrays(ham.core))


def test_list_ham_before_init_keeps_templates_only():
    ham = _small_list_ham()
    assert ham.core is None and len(ham.layers) == 2 and len(ham.synapses) == 1
    _, ham = ham.init_states_and_params(jr.PRNGKey(0))
    assert ham.pending is None


def test_attention_synapses_behave_as_the_core_ones():
    g = jr.normal(jr.PRNGKey(0), (4, 3))
    shapes = ((4, 3),)
    syn = hmx.SelfAttentionSynapse(num_heads=2, zspace_dim=5, stdinit=0.3)
    syn = syn.init(shapes, key=jr.PRNGKey(1))
    core = hamax.synapses.SelfAttentionSynapse(2, 5, 1.0, Wq=syn.Wq, Wk=syn.Wk)
    np.testing.assert_allclose(syn(g), core(g), rtol=1e-12)
    # Self excluded: -sum_heads sum_c logsumexp_{b != c} <K_b, Q_c>.
    Wq, Wk = np.asarray(syn.Wq), np.asarray(syn.Wk)
    gn = np.asarray(g)
    ref = 0.0
    for h in range(2):
        logits = (gn @ Wq[h].T) @ (gn @ Wk[h].T).T
        np.fill_diagonal(logits, -np.inf)
        m = logits.max(-1, keepdims=True)
        ref -= (m[:, 0] + np.log(np.exp(logits - m).sum(-1))).sum()
    np.testing.assert_allclose(syn(g), ref, rtol=1e-10)
    # stdinit is the standard deviation of the projections.
    big = hmx.AttentionSynapse(num_heads=4, zspace_dim=64, stdinit=0.002)
    big = big.init(((8, 32), (8, 32)), key=jr.PRNGKey(2))
    assert big.Wq.shape == (4, 64, 32)
    np.testing.assert_allclose(np.std(np.asarray(big.Wq)), 0.002, rtol=0.05)


def test_v01_lagrangians_are_elementwise_and_v02_summed():
    x = jr.normal(jr.PRNGKey(0), (4, 5))
    for name in ("lagr_identity", "lagr_relu", "lagr_exp", "lagr_tanh"):
        elementwise, summed = getattr(v01, name)(x), getattr(v02, name)(x)
        assert elementwise.shape == x.shape and summed.shape == ()
        np.testing.assert_allclose(elementwise.sum(), summed, rtol=1e-10)
    np.testing.assert_allclose(
        v01.lagr_tanh(x, beta=0.5), np.log(np.cosh(0.5 * np.asarray(x))) / 0.5
    )
    assert v01.lagr_softmax(x).shape == (4, 1)
    assert jax.grad(lambda v: v01.lagr_sigmoid(v, scale=2.0).sum())(x).shape == (4, 5)
    lag = v01.LRepu(n=4)
    assert isinstance(lag, hamax.lagrangians.RePU) and lag.n == 4.0
    np.testing.assert_allclose(lag(x), v01.lagr_repu(x, 4).sum(), rtol=1e-10)


def test_v01_treex_style_init_and_registry():
    g1, g2, g3 = jnp.ones(4), jnp.ones(5), jnp.ones(6)
    syn = v01.DenseSynapse().init(jr.PRNGKey(0), (g1, g2, g3))
    assert syn.W.shape == (4, 5, 6)
    np.testing.assert_allclose(syn(g1, g2, g3), -syn.W.sum(), rtol=1e-10)
    simple = v01.SimpleDenseSynapse().init(jr.PRNGKey(0), (g1, g2))
    np.testing.assert_allclose(simple(g1, g2), -simple.W.sum(), rtol=1e-10)
    layer = v01.Layer(v01.LExp(beta=5.0), (3,)).init(jr.PRNGKey(0), jnp.ones(3))
    assert layer.init_state(2).shape == (2, 3) and layer.init_state().shape == (3,)
    model, fwd = v01.create_model("hn_relu", (6,), (3,), nhid=5)
    _, model = model.init_states_and_params(jr.PRNGKey(0))
    probs = fwd(model, jnp.ones((2, 1, 2, 3)))  # channels-first, flattened
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


def test_v02_synapses():
    W = jr.normal(jr.PRNGKey(0), (3, 4))
    syn = v02.LinearSynapseWithBias(W, jnp.arange(4) + 1)
    g1, g2 = jr.normal(jr.PRNGKey(1), (3,)), jr.normal(jr.PRNGKey(2), (4,))
    np.testing.assert_allclose(
        -jax.grad(syn, argnums=1)(g1, g2), W.T @ g1 + jnp.arange(1.0, 5.0)
    )
    conv = v02.ConvSynapse.from_conv_params(jr.PRNGKey(3), 2, 3, (3, 3), (1, 1))
    assert conv.W.shape == (2, 3, 3, 3)
    x1, x2 = jr.normal(jr.PRNGKey(4), (5, 5, 3)), jr.normal(jr.PRNGKey(5), (5, 5, 2))
    # Float64 direct correlation with SAME padding.
    xp = np.pad(np.asarray(x1), ((1, 1), (1, 1), (0, 0)))
    Wn = np.asarray(conv.W)
    y = np.zeros((5, 5, 2))
    for i in range(5):
        for j in range(5):
            y[i, j] = np.einsum("hwc,ochw->o", xp[i : i + 3, j : j + 3], Wn)
    np.testing.assert_allclose(conv(x1, x2), -(y * np.asarray(x2)).sum(), rtol=1e-10)
    ham = v02.HAM(
        neurons={"a": v02.NeuronLayer(v02.lagr_tanh, (3,))},
        hypersynapses={},
        connections=[],
    )
    with pytest.warns(UserWarning, match="Vectorize with `ham.vectorize\\(\\)`"):
        ham.init_states(bs=2)
    assert ham.vectorize().init_states(bs=2)["a"].shape == (2, 3)


def test_list_ham_energy_parts_checkpoint_and_drawing(tmp_path):
    layers = [
        hmx.TanhLayer((4, 4, 2)),
        hmx.SigmoidLayer((2, 2, 3)),
        hmx.SoftmaxLayer(5),
    ]
    synapses = [
        hmx.ConvSynapse((2, 2), strides=2),
        hmx.DenseSynapse(),
        hmx.SelfAttentionSynapse(num_heads=2, zspace_dim=4),
    ]
    connections = [((0, 1), 0), ((1, 2), 1), ((1,), 2)]
    xs, ham = hmx.HAM(layers, synapses, connections).init_states_and_params(
        jr.PRNGKey(0), bs=2, state_key=jr.PRNGKey(1)
    )
    gs = ham.vactivations(xs)
    np.testing.assert_allclose(
        ham.venergy(xs), ham.vlayer_energy(xs) + ham.vsynapse_energy(gs), rtol=1e-10
    )
    e0 = ham.venergy(xs)
    for _ in range(3):
        xs = ham.step(xs, ham.vupdates(xs), dt=0.01)
    assert np.all(ham.venergy(xs) <= e0)
    ham.save_state_dict(tmp_path / "ham.ckpt")
    loaded = hmx.HAM(layers, synapses, connections).load_ckpt(tmp_path / "ham.ckpt")
    one = [x[0] for x in xs]
    np.testing.assert_allclose(loaded.energy(one), ham.energy(one), rtol=1e-12)
    assert len(_arrays(loaded)) == len(_arrays(loaded.core))
    ax = ham.visualize()
    ax.figure.savefig(tmp_path / "ham.png")
    assert (tmp_path / "ham.png").stat().st_size > 5000


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
    synapses = {"s": hmx.LinearSynapse.rand_init(jax.random.PRNGKey(0), 4, 3)}  # type: ignore[attr-defined]
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
    synapses = {"s": hmx.LinearSynapse.rand_init(jax.random.PRNGKey(0), 4, 3)}  # type: ignore[attr-defined]
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
        (
            lambda: v01.LSigmoid(scale=2.0),
            r"LSigmoid with scale=2.0 is not supported; hamax's Sigmoid has no scale",
        ),
        (
            lambda: v01.create_model("hn_relu_mnst"),
            r"create_model got 'hn_relu_mnst', which is not registered",
        ),
        (
            lambda: v02.ConvSynapse(jnp.ones((3, 3))),
            r"ConvSynapse expected `W` with 4 axes \(out_channels, in_channels",
        ),
        (
            lambda: v02.ConvSynapse(jnp.ones((1, 1, 1, 1)))(
                jnp.ones((1, 2, 2, 1)), jnp.ones((2, 2, 1))
            ),
            r"ConvSynapse expected one example of \(h, w, c\) activations",
        ),
    ],
)
def test_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()
