import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import zoo


def test_reverse_retrieval_clamps_label_and_descends(getkey):
    ham = zoo.make_hn((12,), num_hidden=8, num_labels=3, key=getkey())
    label = 20.0 * jnp.eye(3)[1]
    sol = hamax.retrieve(
        ham,
        {"label": label},
        noise=1.0,
        key=getkey(),
        dt=0.1,
        steps=50,
        save=hamax.Save(energy=True),
        check_monotone=True,
    )
    np.testing.assert_array_equal(sol.states["label"], label)
    E = np.asarray(sol.energies)
    assert E[-1] < E[0]


def test_masked_completion_equals_descend_with_mask(getkey):
    patterns = jnp.sign(jr.normal(getkey(), (3, 50)))
    ham = zoo.make_classical_hopfield(patterns)
    mask = jnp.arange(50) < 25
    sol = hamax.retrieve(ham, {"x": patterns[0]}, masks={"x": mask}, dt=0.2, steps=200)
    np.testing.assert_array_equal(
        sol.states["x"][:25], patterns[0][:25]
    )  # observed half held
    np.testing.assert_array_equal(
        jnp.sign(sol.states["x"]), patterns[0]
    )  # the rest completed
    ref = hamax.descend(
        ham,
        {"x": jnp.where(mask, patterns[0], 0.0)},
        dt=0.2,
        steps=200,
        clamp={"x": mask},
    )
    np.testing.assert_array_equal(sol.states["x"], ref.states["x"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(known={"lable": jnp.zeros(3)}),
            r"retrieve got a known state for layer 'lable', which is not a neuron layer .* "
            r"Did you mean 'label'",
        ),
        (
            dict(known={}, masks={"label": jnp.ones(3, bool)}),
            r"retrieve got a mask for 'label' but no known state for it",
        ),
        (
            dict(known={"label": jnp.zeros((2, 3))}),
            r"retrieve expected known\['label'\] of shape \(3,\), got \(2, 3\)",
        ),
    ],
)
def test_errors(kwargs, match, getkey):
    ham = zoo.make_hn((4,), num_hidden=3, num_labels=3, key=getkey())
    with pytest.raises(ValueError, match=match):
        hamax.retrieve(ham, dt=0.1, steps=2, **kwargs)


def _softmax_hn(getkey, beta=2.0):
    from hamax.lagrangians import Softmax

    return zoo.make_hn(
        (6,), num_hidden=5, num_labels=3, hidden=Softmax(beta), key=getkey()
    )


def test_beta_scale_and_clamp_scale_equal_a_rebuilt_model(getkey):
    import equinox as eqx

    ham = _softmax_hn(getkey)
    cold = eqx.tree_at(lambda h: h.synapses["memories"].lagrangian.beta, ham, 20.0)
    key = getkey()
    kw = dict(noise=1.0, key=key, dt=0.2, steps=7)
    sol = hamax.retrieve(
        ham, {"label": jnp.eye(3)[2]}, beta_scale=10.0, clamp_scale=5.0, **kw
    )
    ref = hamax.retrieve(cold, {"label": 5.0 * jnp.eye(3)[2]}, **kw)
    np.testing.assert_allclose(sol.states["image"], ref.states["image"], rtol=1e-12)
    np.testing.assert_array_equal(sol.states["label"], 5.0 * jnp.eye(3)[2])
    # The neuron layers keep their own temperature.
    assert ham.synapses["memories"].lagrangian.beta == 2.0


def test_init_replaces_noise(getkey):
    ham = _softmax_hn(getkey)
    x = jr.normal(getkey(), (6,))
    sol = hamax.retrieve(
        ham, {"label": jnp.eye(3)[0]}, init={"image": x}, dt=0.1, steps=0
    )
    np.testing.assert_array_equal(sol.states["image"], x)


def test_recall_labels_shapes_and_recipe(getkey):
    ham = _softmax_hn(getkey)
    imgs, E = hamax.memory.recall_labels(ham, [0, 2, 2], steps=4, key=getkey())
    assert imgs.shape == (3, 6) and E.shape == (3, 5)
    assert np.all(np.abs(np.asarray(imgs)) <= 1)  # tanh activations
    assert np.all(np.diff(np.asarray(E), axis=1) <= 1e-9)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(beta_scale=0.0), r"`beta_scale` to be a finite number > 0, got 0\.0"),
        (dict(beta_scale=-1.0), r"`beta_scale` to be a finite number > 0"),
        (dict(beta_scale=float("nan")), r"`beta_scale` .* got nan"),
        (dict(beta_scale=float("inf")), r"`beta_scale` .* got inf"),
        (dict(clamp_scale=float("nan")), r"`clamp_scale` to be a finite number"),
        (dict(noise=1.0), r"noise=1\.0 without a `key`"),
        (dict(noise=-1.0), r"`noise` to be a finite number >= 0"),
        (dict(init={"image": jnp.zeros(5)}), r"init\['image'\] of shape \(6,\)"),
        (dict(init={"label": jnp.zeros(3)}), r"initial state for 'label', which is"),
        (dict(init={"imag": jnp.zeros(6)}), r"layer 'imag', which is not a neuron"),
    ],
)
def test_knob_errors(getkey, kwargs, match):
    ham = _softmax_hn(getkey)
    with pytest.raises(ValueError, match=match):
        hamax.retrieve(ham, {"label": jnp.eye(3)[0]}, dt=0.1, steps=2, **kwargs)


def test_beta_scale_needs_a_temperature(getkey):
    ham = zoo.make_hn((6,), num_hidden=5, num_labels=3, key=getkey())  # ReLU
    with pytest.raises(ValueError, match=r"no synapse of this HAM has a temperature"):
        hamax.retrieve(ham, {"label": jnp.eye(3)[0]}, beta_scale=10.0, steps=1)
    with pytest.raises(ValueError, match=r"label 3, outside the label layer"):
        hamax.memory.recall_labels(ham, [3], beta_scale=1.0, key=getkey())


def _run_dir(tmp_path, getkey):
    from hamax._io import _checkpoint
    from hamax.training import adamw, init_opt_state

    ham = zoo.make_hn_softmax_beta5_mnist(
        num_hidden=16, normalize=False, key=getkey(), dtype=jnp.float32
    )
    run = tmp_path / "run"
    run.mkdir()
    meta = {"model": "hn_softmax_beta5_mnist", "epoch": 1, "seed": 0}
    meta["hyperparams"] = {"num_hidden": 16, "normalize": False}
    _checkpoint.save(
        run / "checkpoint.eqx", (ham, init_opt_state(ham, adamw())), meta=meta
    )
    return run


def test_cli_retrieve_writes_npz_and_png(tmp_path, getkey, capsys):
    from hamax._cli import main

    run, out = _run_dir(tmp_path, getkey), tmp_path / "out"
    args = ["retrieve", str(run), "--labels", "0", "3", "--steps", "3"]
    assert main([*args, "--out", str(out)]) == 0
    with np.load(out / "retrieved.npz") as f:
        assert f["images"].shape == (2, 784) and f["images"].dtype == np.float32
        np.testing.assert_array_equal(f["labels"], [0, 3])
        assert f["energies"].shape == (2, 4)
    assert (out / "retrieved.png").stat().st_size > 1000
    assert "retrieved.png" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, match, code",
    [
        (
            ["--labels", "10"],
            "label 10, outside the label layer 'label' of 10 units",
            1,
        ),
        (["--beta-scale", "0"], "--beta-scale: expected a finite number > 0, got 0", 2),
        (
            ["--beta-scale", "nan"],
            "--beta-scale: expected a finite number, got 'nan'",
            2,
        ),
        ([], "without a model", 1),
    ],
)
def test_cli_retrieve_errors_touch_nothing(
    tmp_path, getkey, capsys, extra, match, code
):
    from hamax._cli import main

    run = _run_dir(tmp_path, getkey) if extra else tmp_path
    out = tmp_path / "out"
    try:
        got = main(["retrieve", str(run), "--out", str(out), *extra])
    except SystemExit as e:  # argparse: usage errors
        got = e.code
    assert got == code
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err
    assert not out.exists()
