"""The generic trainer: any HAM, any objective, on real MNIST (../shared/data)."""

import json
import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import lagrangians as L, synapses as S, training as T


MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="module")
def mnist():
    with np.load(MNIST) as f:
        x_train, y_train = f["x_train"][:3000], f["y_train"][:3000]
        x_test, y_test = f["x_test"][:500], f["y_test"][:500]
    return (
        {"image": T.standardize(x_train, "mnist"), "label": y_train.astype(np.int32)},
        {"image": T.standardize(x_test, "mnist"), "label": y_test.astype(np.int32)},
    )


def three_layer_ham(key):
    """The README's hand-built HAM: image -> hidden -> label, two dense synapses."""
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), (28, 28, 1)),
        "hidden": hamax.NeuronLayer(L.ReLU(), 64),
        "label": hamax.NeuronLayer(L.Softmax(), 10),
    }
    synapses = {"s1": S.DenseSynapse(), "s2": S.DenseSynapse()}
    connections = [(("image", "hidden"), "s1"), (("hidden", "label"), "s2")]
    return hamax.HAM(neurons, synapses, connections, key=key, dtype=jnp.float32)


def test_hand_built_ham_trains_to_classify_and_reloads(mnist, tmp_path):
    train, test = mnist
    ham = three_layer_ham(jr.key(0))
    objective = T.Classification(dt=0.5, steps=6)
    res = T.train(
        ham,
        objective,
        train,
        test_data=test,
        epochs=2,
        batch_size=100,
        optim=T.adamw(3e-3),
        run=T.RunDir(tmp_path),
        progress=False,
    )
    assert res.status == "completed"
    acc = res.history[-1]["test_accuracy"]
    assert acc > 0.8, res.history
    assert res.history[-1]["test_loss"] < res.history[0]["train_loss"]
    files = {p.name for p in tmp_path.iterdir()}
    assert {"checkpoint.eqx", "model.eqx", "metrics.json", "metrics.csv"} <= files
    assert not any(name.endswith(".tmp") or name.endswith(".lock") for name in files)
    # The architecture is stored as data: the model comes back without code.
    loaded, meta = hamax.load_run(tmp_path)
    assert set(loaded.neurons) == {"image", "hidden", "label"}
    assert T.objective_from_json(meta["objective"]) == objective
    again = T.evaluate(loaded, objective, test)
    np.testing.assert_allclose(again["accuracy"], acc, rtol=0, atol=1e-12)
    same = hamax.load_model(tmp_path / "model.eqx")
    assert T.evaluate(same, objective, test)["loss"] == again["loss"]
    history = json.loads((tmp_path / "metrics.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]


def test_completion_objective_learns_to_fill_the_bottom_half(mnist, tmp_path):
    train, test = mnist
    neurons = {"image": hamax.NeuronLayer(L.Tanh(), (28, 28, 1))}
    synapses = {"memories": S.DenseHiddenSynapse(100, L.ReLU())}
    ham = hamax.HAM(
        neurons, synapses, [(("image",), "memories")], key=jr.key(1), dtype=jnp.float32
    )
    observed = jnp.zeros((28, 28, 1), bool).at[:14].set(True)  # top half known
    objective = T.Completion(target="image", mask=observed, dt=0.5, steps=8)
    data = {"image": train["image"][:2000]}
    before = T.evaluate(ham, objective, {"image": test["image"]})
    res = T.train(
        ham,
        objective,
        data,
        test_data={"image": test["image"]},
        epochs=2,
        batch_size=100,
        optim=T.adamw(3e-3),
        progress=False,
        run=T.RunDir(tmp_path),
    )
    after = res.history[-1]["test_mse"]
    assert after < 0.6 * before["mse"], (before, res.history)
    # The observed half is held exactly; the completion is in the other half.
    x = objective.complete(res.ham, {"image": jnp.asarray(test["image"][:4])})
    np.testing.assert_array_equal(x[:, :14], test["image"][:4, :14])
    # A plot of the completions, as the docs show it.
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hamax.plot import plot_image_grid

    g = np.tanh(np.asarray(x))
    fig, ax = plt.subplots()
    plot_image_grid(g, ax)
    fig.savefig(tmp_path / "completions.png")
    plt.close(fig)
    assert (tmp_path / "completions.png").stat().st_size > 1000
    assert hamax.load_model(tmp_path).neurons.keys() == {"image"}


def test_joint_objective_and_custom_objective(getkey):
    ham = hamax.zoo.make_hn((6,), num_hidden=8, num_labels=3, key=getkey())
    x = jr.normal(getkey(), (12, 6))
    y = jnp.arange(12) % 3
    joint = T.Joint(
        (
            T.Classification(dt=0.3, steps=3),
            T.Completion(
                target="image", given=("label",), given_scale=5.0, dt=0.3, steps=3
            ),
        ),
        (1.0, 0.5),
    )
    loss, metrics = joint.loss(ham, {"image": x, "label": y})
    c_loss, c_m = joint.objectives[0].loss(ham, {"image": x, "label": y})
    r_loss, r_m = joint.objectives[1].loss(ham, {"image": x, "label": y})
    np.testing.assert_allclose(loss, c_loss + 0.5 * r_loss, rtol=1e-12)
    assert set(metrics) == {
        "0_Classification_loss",
        "0_Classification_accuracy",
        "1_Completion_loss",
        "1_Completion_mse",
    }

    class Energy(T.AbstractObjective):
        """Lower the energy of the data (a user-written objective)."""

        def layers(self):
            return ("image",)

        def batch_keys(self):
            return ("image",)

        def loss(self, ham, batch, *, key=None):

            def one(img):
                s = ham.clamp({"image": img})
                x = hamax.descend(s, s.init(), dt=0.3, steps=3).free
                return s.energy(x)

            e = jnp.mean(jax.vmap(one)(batch["image"]))
            return e, {"energy": e}

    res = T.train(
        ham,
        Energy(),
        {"image": np.asarray(x)},
        epochs=3,
        batch_size=4,
        optim=T.adamw(1e-2),
        progress=False,
    )
    assert res.history[-1]["train_energy"] < res.history[0]["train_energy"]


def test_trainer_errors(mnist, tmp_path, getkey):
    train, _ = mnist
    small = {k: v[:200] for k, v in train.items()}
    ham = three_layer_ham(getkey())
    ok = T.Classification(steps=2)
    cases = [
        (
            dict(objective=T.Classification(label="labels")),
            r"Classification names layer 'labels', which the HAM does not have .* Did you "
            r"mean 'label'",
        ),
        (
            dict(train_data={"image": small["image"], "y": small["label"]}),
            r"Classification reads batch\['label'\], which the data does not have",
        ),
        (
            dict(train_data={**small, "label": small["label"] + 5}),
            r"train got train_data\['label'\]\[\d+\] = 1\d, outside the 10 units of layer "
            r"'label'; labels must be in 0..9",
        ),
        (
            dict(test_data={**small, "label": -small["label"] - 1}),
            r"train got test_data\['label'\]\[0\] = -\d+, outside the 10 units",
        ),
        (dict(epochs=0), r"train expected `epochs` to be an int >= 1, got 0"),
        (
            dict(batch_size=1000),
            r"train got 200 training examples, fewer than one "
            r"batch of 1000",
        ),
        (
            dict(train_data={"image": small["image"], "label": small["label"][:10]}),
            r"train expected the arrays of `train_data` to have one length",
        ),
        (
            dict(on_nonfinite="ignore"),
            r"train expected `on_nonfinite` to be 'stop' or "
            r"'raise'",
        ),
    ]
    for kw, match in cases:
        args = dict(
            objective=ok,
            train_data=small,
            epochs=1,
            batch_size=50,
            progress=False,
            run=T.RunDir(tmp_path / "never"),
        )
        args.update(kw)
        with pytest.raises(ValueError, match=match):
            T.train(ham, args.pop("objective"), args.pop("train_data"), **args)
    assert not (tmp_path / "never").exists() or not any((tmp_path / "never").iterdir())
    with pytest.raises(ValueError, match=r"Completion got nothing to complete from"):
        T.Completion()
    with pytest.raises(
        ValueError,
        match=r"Classification expected `dt` to be a finite "
        r"number > 0, got 0.0",
    ):
        T.Classification(dt=0.0)
    with pytest.raises(FileNotFoundError, match=r"is a directory without a model"):
        hamax.load_model(tmp_path)


def test_resume_with_other_settings_is_refused_and_nonfinite_stops(mnist, tmp_path):
    train, _ = mnist
    small = {k: v[:200] for k, v in train.items()}
    ham = three_layer_ham(jr.key(0))
    kw = dict(epochs=1, batch_size=50, progress=False, run=T.RunDir(tmp_path))
    T.train(ham, T.Classification(steps=2), small, **kw)
    with pytest.raises(
        ValueError,
        match=r"(?s)started with other settings.*learning_rate: "
        r"0.001 -> 0.002.*--force-resume",
    ):
        T.train(
            ham,
            T.Classification(steps=2),
            small,
            optim=T.adamw(2e-3),
            **{**kw, "epochs": 2},
        )
    res = T.train(
        ham,
        T.Classification(steps=2),
        small,
        optim=T.adamw(2e-3),
        **{**kw, "epochs": 2, "run": T.RunDir(tmp_path, force_resume=True)},
    )
    assert [r["epoch"] for r in res.history] == [1, 2]
    # A diverging run stops with the epoch and batch and names what it kept.
    with pytest.raises(
        FloatingPointError,
        match=r"non-finite at epoch 1, batch \d.*no "
        r"checkpoint was written \(no run directory\)",
    ):
        T.train(
            ham,
            T.Classification(steps=2, dt=1e30),
            small,
            epochs=1,
            batch_size=50,
            progress=False,
            on_nonfinite="raise",
            optim=T.adamw(1e30),
        )


def test_a_seeds_compat_ham_trains_through_the_same_loop(getkey):
    """The paper's list-based HAM (hamax.compat.v01) trains with `train`: the
    objective reads its core HAM, where its one copy of the parameters lives."""
    from hamax.compat import v01

    layers = [v01.TanhLayer((6,)), v01.SoftmaxLayer((3,))]
    synapses = [v01.DenseMatrixSynapseWithHiddenLayer(8, hidden_lagrangian=v01.LRelu())]
    _, ham = v01.HAM(layers, synapses, [((0, 1), 0)]).init_states_and_params(
        jr.PRNGKey(0)
    )
    x = np.asarray(jr.normal(getkey(), (60, 6)))
    y = np.asarray(jnp.argmax(x[:, :3], axis=1)).astype(np.int32)
    objective = T.Classification(image="layer0", label="layer1", dt=0.4, steps=4)
    res = T.train(
        ham,
        objective,
        {"layer0": x, "layer1": y},
        epochs=8,
        batch_size=20,
        optim=T.adamw(1e-2),
        progress=False,
    )
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    before = ham.core.synapses["synapse0"].Ws[0]
    after = res.ham.core.synapses["synapse0"].Ws[0]
    assert not np.allclose(before, after)
    assert res.ham.synapses[0] is res.ham.core.synapses["synapse0"]
    with pytest.raises(
        ValueError,
        match=r"train got train_data\['layer1'\]\[\d+\] = \d, outside the 3 units",
    ):
        T.train(
            ham,
            objective,
            {"layer0": x, "layer1": y + 7},
            epochs=1,
            batch_size=20,
            progress=False,
        )
