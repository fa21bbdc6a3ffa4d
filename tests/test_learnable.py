"""Learnable Lagrangian hyperparameters (`hamax.learnable`): gradients against
float64 finite differences, the lower bound under hostile updates, spec and
checkpoint round trips, the trainer's per-epoch report, compat v0.1."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import hamax
from hamax import training as T, zoo
from hamax.compat import v01
from hamax.lagrangians import (
    Exp,
    LayerNorm,
    RExp,
    Sigmoid,
    Softmax,
    SphericalNorm,
    Tanh,
)


F64 = jnp.float64
X = jnp.array([0.3, -1.2, 0.7, 2.1, -0.4], F64)

# (class, field, value): every tempered or scaled Lagrangian of the catalogue.
CASES = [
    (Softmax, "beta", 1.3),
    (Tanh, "beta", 0.8),
    (Sigmoid, "beta", 1.7),
    (Exp, "beta", 0.6),
    (RExp, "beta", 0.9),
    (LayerNorm, "gamma", 1.4),
    (LayerNorm, "delta", 0.2),
    (SphericalNorm, "gamma", 0.7),
]


def _make(cls, field, value):
    lower = None if field == "delta" else 1e-6
    return cls(**{field: hamax.learnable(value, lower=lower, dtype=F64)})


def _fd(cls, field, value, f, eps=1e-6):
    hi, lo = cls(**{field: value + eps}), cls(**{field: value - eps})
    return (f(hi) - f(lo)) / (2 * eps)


@pytest.mark.parametrize("cls,field,value", CASES)
def test_value_and_gradient_match_fixed_and_finite_differences(cls, field, value):
    lag = _make(cls, field, value)
    fixed = cls(**{field: value})
    np.testing.assert_allclose(lag(X), fixed(X), rtol=1e-14)
    np.testing.assert_allclose(lag.activation(X), fixed.activation(X), rtol=1e-13)
    grad = eqx.filter_grad(lambda m: m(X))(lag)
    fd = _fd(cls, field, value, lambda m: m(X))
    np.testing.assert_allclose(getattr(grad, field).raw, fd, rtol=1e-7)
    # The gradient of an activation-dependent quantity (what a loss reads).
    grad_g = eqx.filter_grad(lambda m: jnp.sum(m.activation(X) ** 2))(lag)
    fd_g = _fd(cls, field, value, lambda m: jnp.sum(m.activation(X) ** 2))
    np.testing.assert_allclose(getattr(grad_g, field).raw, fd_g, rtol=1e-6)


def test_jit_vmap_and_eager_agree():
    lag = Softmax(beta=hamax.learnable(2.0, dtype=F64))
    xs = jax.random.normal(jax.random.key(1), (4, 5), F64)
    eager = jnp.stack([lag.activation(x) for x in xs])
    vm = jax.vmap(lag.activation)(xs)
    jit = eqx.filter_jit(lambda m, xs: jax.vmap(m.activation)(xs))(lag, xs)
    np.testing.assert_allclose(vm, eager, rtol=1e-14)
    np.testing.assert_allclose(jit, eager, rtol=1e-14)
    g_eager = eqx.filter_grad(lambda m: m(xs[0]))(lag).beta.raw
    g_jit = eqx.filter_jit(eqx.filter_grad(lambda m: m(xs[0])))(lag).beta.raw
    np.testing.assert_allclose(g_jit, g_eager, rtol=1e-14)


def test_gradient_reaches_beta_through_a_ham_descent():
    # The paper's HN (SoftMax) in miniature: the classification loss after a
    # descent, differentiated w.r.t. every beta, against finite differences.
    ham = zoo.make_hn_softmax_mnist(num_hidden=6, key=jax.random.key(0), dtype=F64)
    imgs = jax.random.normal(jax.random.key(2), (3, 784), F64) * 0.5
    batch = {"image": imgs, "label": jnp.array([1, 4, 7])}
    obj = T.Classification(steps=4, dt=0.4)

    def loss(h):
        return obj.loss(h, batch)[0]

    grads = eqx.filter_grad(loss)(ham)
    where = {
        "hidden": lambda h: h.synapses["memories"].lagrangian.beta.raw,
        "image": lambda h: h.neurons["image"].lagrangian.beta.raw,
        "label": lambda h: h.neurons["label"].lagrangian.beta.raw,
    }
    for name, w in where.items():
        eps = 1e-6
        up = eqx.tree_at(w, ham, w(ham) + eps)
        dn = eqx.tree_at(w, ham, w(ham) - eps)
        fd = (loss(up) - loss(dn)) / (2 * eps)
        assert abs(float(w(grads))) > 1e-6, name
        np.testing.assert_allclose(w(grads), fd, rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("dtype", [jnp.float32, F64])
def test_bound_holds_under_a_hostile_optimiser_step(dtype):
    lag = Softmax(beta=hamax.learnable(1.0, dtype=dtype))
    x = X.astype(dtype)
    # A huge SGD step along the gradient drives raw beta far below zero.
    opt = optax.sgd(1e4)
    params = eqx.filter(lag, eqx.is_inexact_array)
    grads = eqx.filter_grad(lambda m: -m(x) * 100)(lag)
    updates, _ = opt.update(grads, opt.init(params))
    bad = eqx.apply_updates(lag, updates)
    assert float(bad.beta.raw) < -100
    assert float(bad.beta.value) == pytest.approx(1e-6, rel=1e-6)
    np.testing.assert_allclose(bad(x), Softmax(1e-6)(x), rtol=1e-5)
    assert np.isfinite(np.asarray(bad.activation(x))).all()
    # The straight-through gradient still reaches raw beta, so it can recover.
    g = eqx.filter_grad(lambda m: m(x))(bad).beta.raw
    assert np.isfinite(float(g)) and float(g) != 0.0


def test_spec_and_checkpoint_round_trip_keep_the_learned_value(tmp_path):
    ham = zoo.make_hn_softmax_mnist(
        num_hidden=8, key=jax.random.key(3), dtype=jnp.float32
    )
    where = lambda h: h.synapses["memories"].lagrangian.beta.raw  # noqa: E731
    assert where(ham).dtype == jnp.float32
    ham = eqx.tree_at(where, ham, jnp.asarray(2.75, jnp.float32))
    spec = hamax.to_spec(ham)
    rebuilt = hamax.from_spec(spec)
    assert isinstance(rebuilt.synapses["memories"].lagrangian.beta, hamax.Learnable)
    assert rebuilt.synapses["memories"].lagrangian.beta.lower == 1e-6
    path = tmp_path / "m.eqx"
    hamax.save(path, ham, spec=spec)
    loaded, _ = hamax.load(path, rebuilt)
    assert float(where(loaded)) == 2.75
    assert hamax.learned_values(loaded) == hamax.learned_values(ham)


def test_learned_values_names_every_learnable():
    ham = zoo.make_hn_softmax_mnist(num_hidden=4, key=jax.random.key(0))
    vals = hamax.learned_values(ham)
    assert vals == {
        "neurons.image.lagrangian.beta": 1.0,
        "neurons.label.lagrangian.beta": 1.0,
        "synapses.memories.lagrangian.beta": 1.0,
    }
    vec = LayerNorm(delta=hamax.learnable(jnp.array([1.0, 3.0]), lower=None))
    assert hamax.learned_values(vec) == {"delta.mean": 2.0}
    assert (
        hamax.learned_values(zoo.make_hn_mnist(num_hidden=4, key=jax.random.key(0)))
        == {}
    )


def test_the_trainer_reports_each_learned_beta_per_epoch(tmp_path):
    rng = np.random.default_rng(0)
    data = {
        "image": rng.normal(size=(40, 784)).astype(np.float32),
        "label": rng.integers(0, 10, 40).astype(np.int32),
    }
    ham = zoo.make_hn_softmax_mnist(
        num_hidden=8, key=jax.random.key(0), dtype=jnp.float32
    )
    res = T.train(
        ham,
        T.Classification(steps=2, dt=0.4),
        data,
        epochs=2,
        batch_size=20,
        optim=T.adamw(1e-2),
        progress=False,
        run=T.RunDir(tmp_path / "run"),
    )
    for row in res.history:
        for k in ("image", "label"):
            assert f"learned.neurons.{k}.lagrangian.beta" in row
        assert "learned.synapses.memories.lagrangian.beta" in row
    learned = res.history[-1]["learned.synapses.memories.lagrangian.beta"]
    assert learned != 1.0  # it was trained
    assert learned == float(res.ham.synapses["memories"].lagrangian.beta.value)
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
    assert "learned.synapses.memories.lagrangian.beta" in header


def test_compat_v01_lagrangians_are_trainable_as_in_v01():
    for make in (v01.LSoftmax, v01.LTanh, v01.LExp, v01.LRexp, v01.LSigmoid):
        lag = make(beta=2.0, min_beta=0.5)
        assert isinstance(lag.beta, hamax.Learnable), make
        assert lag.beta.lower == 0.5
        assert float(lag.beta.value) == 2.0
    ln = v01.LLayerNorm(gamma=1.5, delta=0.1)
    assert isinstance(ln.gamma, hamax.Learnable) and ln.gamma.lower == 0.0
    assert isinstance(ln.delta, hamax.Learnable) and ln.delta.lower is None
    # v0.2's functional forms and v0.1's own lagr_* functions stay plain.
    assert not isinstance(v01.LSphericalNorm().gamma, hamax.Learnable)
    assert v01.lagr_softmax(jnp.zeros(3), beta=2.0).shape == (1,)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: hamax.learnable(float("nan")), "finite value"),
        (lambda: hamax.learnable(-1.0), "below its lower bound 1e-06"),
        (lambda: hamax.learnable(1.0, lower=float("inf")), "finite number or None"),
        (lambda: Softmax(beta=hamax.learnable(1.0, lower=None)), "lower bound > 0"),
        (lambda: Tanh(beta=hamax.learnable(1.0, lower=-1.0)), "lower bound > 0"),
        (lambda: LayerNorm(gamma=hamax.learnable(1.0, lower=None)), "lower bound >= 0"),
    ],
)
def test_bad_learnables_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_numbers_are_refused():
    with pytest.raises(TypeError, match="number or array"):
        hamax.learnable(True)
    with pytest.raises(TypeError, match="number or array"):
        hamax.learnable("1.0")
