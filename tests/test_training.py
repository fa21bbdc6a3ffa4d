import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
import hamax.lagrangians as L
from hamax import synapses as S, training as T


def toy_data(n, key, dim=8, classes=3):
    """Class-dependent means plus noise: learnable but not trivially separable."""
    k1, k2 = jr.split(key)
    labels = jr.randint(k1, (n,), 0, classes)
    means = jnp.eye(classes, dim) * 2.0
    return means[labels] + 0.8 * jr.normal(k2, (n, dim)), labels


def test_loss_falls_and_step_compiles_once(getkey):
    traces = []

    def counting_bias(g):
        traces.append(1)
        return -0.01 * jnp.sum(g)

    ham = hamax.HAM(
        {
            "image": hamax.NeuronLayer(L.Tanh(), 8),
            "label": hamax.NeuronLayer(L.Softmax(), 3),
        },
        {"mem": S.DenseHiddenSynapse(16), "bias": counting_bias},
        [(("image", "label"), "mem"), (("label",), "bias")],
        key=getkey(),
    )
    optim = T.adamw(3e-2)
    opt_state = T.init_opt_state(ham, optim)
    x, y = toy_data(64, getkey())
    losses = []
    for i in range(20):
        ham, opt_state, loss, metrics = T.make_step(
            ham,
            opt_state,
            {"image": x, "label": y},
            objective=T.Classification(dt=0.4, steps=4),
            optim=optim,
        )
        acc = metrics["accuracy"]
        losses.append(float(loss))
        if i == 0:
            after_first = len(traces)
    assert len(traces) == after_first  # no retrace after the first step
    assert losses[-1] < 0.5 * losses[0]
    assert float(acc) > 0.8


def test_gradient_of_loss_matches_finite_differences(getkey):
    ham = hamax.zoo.make_hn((8,), num_hidden=6, num_labels=3, key=getkey())
    x, y = toy_data(5, getkey())

    def loss(W):
        h = hamax.HAM(
            ham.neurons,
            {
                "memories": S.DenseHiddenSynapse(
                    6, Ws=(W, ham.synapses["memories"].Ws[1])
                )
            },
            ham.connections,
        )
        return T.classification_loss(h, x, y, steps=4, dt=0.4)[0]

    W = ham.synapses["memories"].Ws[0]
    import jax

    g = jax.grad(loss)(W)
    E = np.zeros(W.shape)
    E[3, 0, 2] = 1e-6
    np.testing.assert_allclose(
        g[3, 0, 2], (loss(W + E) - loss(W - E)) / 2e-6, rtol=1e-6
    )


def synthetic_mnist(n_train=120, n_test=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n_train + n_test).astype(np.uint8)
    x = rng.integers(0, 60, (n_train + n_test, 28, 28)).astype(np.uint8)
    for i, label in enumerate(y):  # a bright bar whose position is the label
        x[i, 2 + 2 * label : 4 + 2 * label, 4:24] = 250
    return {
        "x_train": x[:n_train],
        "y_train": y[:n_train],
        "x_test": x[n_train:],
        "y_test": y[n_train:],
    }


def test_train_classifier_learns_and_resumes_identically(tmp_path):
    data = synthetic_mnist()
    kw = dict(
        epochs=2, batch_size=40, hyperparams={"num_hidden": 32}, progress=False, seed=3
    )
    full = T.train_classifier("hn_relu_mnist", data, run=T.RunDir(tmp_path / "a"), **kw)
    assert full.history[-1]["test_accuracy"] > 0.5
    assert (tmp_path / "a" / "metrics.csv").read_text().startswith("epoch,train_loss")
    # one epoch, then resume to two: the same parameters bit for bit
    T.train_classifier(
        "hn_relu_mnist", data, run=T.RunDir(tmp_path / "b"), **{**kw, "epochs": 1}
    )
    resumed = T.train_classifier(
        "hn_relu_mnist", data, run=T.RunDir(tmp_path / "b"), **kw
    )
    assert len(resumed.history) == 2
    for a, b in zip(
        full.ham.synapses["memories"].Ws, resumed.ham.synapses["memories"].Ws
    ):
        np.testing.assert_array_equal(a, b)

    def timeless(history):
        return [
            {k: v for k, v in row.items() if k != "epoch_seconds"} for row in history
        ]

    assert timeless(resumed.history) == timeless(full.history)


def test_train_classifier_errors(tmp_path):
    import pytest

    data = synthetic_mnist(20, 5)
    with pytest.raises(
        ValueError, match=r"Unknown model 'hn_mnist'; choose one of hn_relu_mnist"
    ):
        T.train_classifier("hn_mnist", data, epochs=1)
    with pytest.raises(
        ValueError,
        match=r"train got 20 training examples, fewer than one batch of 400",
    ):
        T.train_classifier("hn_relu_mnist", data, epochs=1)
    with pytest.raises(ValueError, match=r"train expected `epochs` to be an int >= 1"):
        T.train_classifier("hn_relu_mnist", data, epochs=0)


def test_shorthands_take_the_objective_fields(getkey):
    # forward and classification_loss are Classification's own fields, not a
    # second list of them (issue #25): same values, and the required ones named.
    ham = hamax.zoo.make_hn_mnist(key=getkey(), num_hidden=8, dtype=jnp.float32)
    x = jr.normal(getkey(), (3, 784), jnp.float32)
    y = jnp.array([1, 2, 3], jnp.int32)
    obj = T.Classification(steps=2, dt=0.4)
    assert (T.forward(ham, x, steps=2, dt=0.4) == obj.predict(ham, x)).all()
    loss, acc = T.classification_loss(ham, x, y, steps=2, dt=0.4)
    want, m = obj.loss(ham, {"image": x, "label": y})
    assert loss == want and acc == m["accuracy"]
    with pytest.raises(TypeError, match=r"forward\(\) missing required keyword "):
        T.forward(ham, x, dt=0.4)
    with pytest.raises(TypeError, match=r"argument\(s\) 'steps', 'dt'; pass e"):
        T.classification_loss(ham, x, y)
