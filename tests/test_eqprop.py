"""Equilibrium propagation (hamax.EqProp): the estimate against implicit
differentiation at the fixed point, its order in beta, and training with it."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import lagrangians as L, synapses as S, training as T


TIGHT = hamax.Converged(atol=1e-12, max_steps=20000)
BETAS = (0.02, 0.01, 0.005)
# The softmax label layer (beta 1.5) has larger higher-order terms: its
# asymptotic regime starts at smaller nudges.
BETAS_SOFTMAX = (0.005, 0.0025, 0.00125)


def small_ham(key):
    """image -> hidden -> label, with learnable Lagrangian parameters (the hidden
    layer's tanh gain, the label softmax's beta) and biases, so every kind of
    parameter is checked."""
    k1, k2, k3 = jr.split(key, 3)
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), 4),
        "hidden": hamax.NeuronLayer(
            L.Tanh(beta=jnp.array(1.3)), 5, bias=0.1 * jr.normal(k2, (5,))
        ),
        "label": hamax.NeuronLayer(
            L.Softmax(beta=hamax.learnable(1.5)), 3, bias=0.1 * jr.normal(k3, (3,))
        ),
    }
    synapses = {"s1": S.DenseSynapse(), "s2": S.DenseSynapse()}
    connections = [(("image", "hidden"), "s1"), (("hidden", "label"), "s2")]
    return hamax.HAM(neurons, synapses, connections, key=k1, dtype=jnp.float64)


def completion_ham(key):
    """A 6-pixel pattern layer with a Dense AM hidden layer."""
    neurons = {"image": hamax.NeuronLayer(L.Tanh(beta=jnp.array(0.8)), 6)}
    synapses = {"mem": S.DenseHiddenSynapse(4, L.Tanh())}
    return hamax.HAM(
        neurons, synapses, [(("image",), "mem")], key=key, dtype=jnp.float64
    )


def leaves(tree):
    return jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))


def grad(objective, ham, batch):
    return eqx.filter_grad(lambda h: objective.loss(h, batch)[0])(ham)


def rel_err(a, b):
    num = sum(float(jnp.sum((x - y) ** 2)) for x, y in zip(leaves(a), leaves(b)))
    den = sum(float(jnp.sum(x**2)) for x in leaves(b))
    return (num / den) ** 0.5


def slope(errs, betas=BETAS):
    return np.polyfit(np.log(betas), np.log(errs), 1)[0]


@pytest.fixture(scope="module")
def classification():
    ham = small_ham(jr.key(0))
    images = jr.normal(jr.key(1), (6, 4))
    batch = {"image": images, "label": jnp.array([0, 1, 2, 0, 1, 2])}
    ref = T.Classification(dt=0.2, stop=TIGHT, adjoint=hamax.Implicit())
    return ham, batch, grad(ref, ham, batch)


@pytest.fixture(scope="module")
def completion():
    ham = completion_ham(jr.key(2))
    truth = jnp.tanh(jr.normal(jr.key(3), (5, 6)))
    mask = jnp.array([True, True, True, False, False, False])
    ref = T.Completion(mask=mask, dt=0.2, stop=TIGHT, adjoint=hamax.Implicit())
    batch = {"image": truth}
    return ham, batch, mask, grad(ref, ham, batch)


def errors(make, ham, batch, ref, nudging, betas=BETAS):
    return [
        rel_err(grad(make(hamax.EqProp(beta=b, nudging=nudging)), ham, batch), ref)
        for b in betas
    ]


def test_classification_orders_in_beta(classification):
    ham, batch, ref = classification

    def make(est):
        return T.Classification(dt=0.2, stop=TIGHT, adjoint=est)

    b = BETAS_SOFTMAX
    one_sided = errors(make, ham, batch, ref, "positive", b)
    centered = errors(make, ham, batch, ref, "centered", b)
    assert one_sided[-1] < 0.02 and centered[-1] < 1e-3, (one_sided, centered)
    assert 0.8 <= slope(one_sided, b) <= 1.2, one_sided
    assert 1.8 <= slope(centered, b) <= 2.2, centered
    negative = errors(make, ham, batch, ref, "negative", b)
    assert 0.8 <= slope(negative, b) <= 1.2, negative
    # The first-order errors of the two one-sided estimates are opposite, and
    # centering cancels them.
    assert centered[0] < 0.3 * min(one_sided[0], negative[0])


def test_completion_orders_in_beta(completion):
    ham, batch, mask, ref = completion

    def make(est):
        return T.Completion(mask=mask, dt=0.2, stop=TIGHT, adjoint=est)

    one_sided = errors(make, ham, batch, ref, "positive")
    centered = errors(make, ham, batch, ref, "centered")
    assert 0.8 <= slope(one_sided) <= 1.2, one_sided
    assert 1.8 <= slope(centered) <= 2.2, centered
    assert centered[-1] < 1e-4, centered


def test_value_is_the_free_phase_loss_and_jit_agrees(classification):
    ham, batch, _ = classification
    est = hamax.EqProp(beta=0.01, nudged=hamax.Steps(40))
    ep = T.Classification(dt=0.2, steps=60, adjoint=est)
    plain = T.Classification(dt=0.2, steps=60)
    loss, metrics = ep.loss(ham, batch)
    loss0, metrics0 = plain.loss(ham, batch)
    np.testing.assert_allclose(loss, loss0, rtol=1e-12)
    assert metrics == metrics0
    assert loss.dtype == jnp.float64
    eager = grad(ep, ham, batch)
    jitted = eqx.filter_jit(grad)(ep, ham, batch)
    for a, b in zip(leaves(eager), leaves(jitted)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # Fixed steps in both phases still give a close estimate.
    near = T.Classification(dt=0.2, stop=TIGHT, adjoint=hamax.Implicit())
    assert rel_err(eager, grad(near, ham, batch)) < 0.05


def test_trains_through_the_trainer():
    ham = small_ham(jr.key(4))
    x = np.asarray(jr.normal(jr.key(5), (48, 4)))
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0).astype(np.int32)
    est = hamax.EqProp(beta=0.05, nudging="centered", nudged=hamax.Steps(20))
    objective = T.Classification(dt=0.3, steps=30, adjoint=est)
    res = T.train(
        ham,
        objective,
        {"image": x, "label": y},
        epochs=3,
        batch_size=16,
        optim=T.adamw(3e-2),
        progress=False,
    )
    assert res.status == "completed"
    losses = [r["train_loss"] for r in res.history]
    assert losses[-1] < losses[0] - 0.05, losses
    # The estimator is stored with a run and comes back with it.
    assert T.objective_from_json(T.objective_to_json(objective)) == objective
    conv = T.Classification(
        stop=TIGHT, adjoint=hamax.EqProp(nudging="negative", nudged=TIGHT)
    )
    assert T.objective_from_json(T.objective_to_json(conv)) == conv


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"beta": 0.0}, "`beta` to be a finite number > 0, got 0.0"),
        ({"beta": -0.1}, "`beta` to be a finite number > 0"),
        ({"beta": float("nan")}, "`beta` to be a finite number > 0"),
        ({"beta": True}, "`beta` to be a finite number > 0"),
        ({"nudging": "centred"}, "got 'centred'.*Did you mean 'centered'"),
        ({"nudging": 1}, "`nudging` to be one of"),
        ({"nudged": 10}, "`nudged` to be a stopping rule"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hamax.EqProp(**kwargs)


def test_descend_refuses_it():
    ham = small_ham(jr.key(6))
    system = ham.clamp({"image": jnp.zeros(4)})
    with pytest.raises(ValueError, match="give it to an objective instead"):
        hamax.descend(system, system.init(), steps=3, adjoint=hamax.EqProp())
