import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

import hamax.lagrangians as L

from .helpers import all_lagrangians, closed_form


LAGRANGIANS = all_lagrangians()
IDS = [c.__name__ for c in LAGRANGIANS]
# A second, non-default configuration of each class, to test the hyperparameters.
NON_DEFAULT = {
    "RePU": dict(n=4.0),
    "Exp": dict(beta=0.7),
    "RExp": dict(beta=1.7),
    "Tanh": dict(beta=2.5),
    "Sigmoid": dict(beta=0.3),
    "Softmax": dict(beta=3.0),
    "Ghostmax": dict(beta=2.0),
    "LayerNorm": dict(gamma=1.5, delta=jnp.array([0.1, -0.2, 0.3, 0.0, 1.0])),
    "SphericalNorm": dict(gamma=0.5, delta=0.25),
    "Sparsemax": dict(beta=2.0),
    "Entmax": dict(alpha=1.3, beta=0.7),  # bisection (1.5 and 2 use a sort)
}


def configs():
    for cls in LAGRANGIANS:
        yield pytest.param(cls(), id=cls.__name__)
        if cls.__name__ in NON_DEFAULT:
            yield pytest.param(
                cls(**NON_DEFAULT[cls.__name__]), id=cls.__name__ + "-custom"
            )


def test_registry_is_complete():
    names = set(IDS)
    assert names == {
        "Identity", "RePU", "ReLU", "Exp", "RExp", "Tanh", "Sigmoid",
        "Softmax", "Ghostmax", "LayerNorm", "SphericalNorm", "Sparsemax", "Entmax",
    }  # fmt: skip


@pytest.mark.parametrize("lag", list(configs()))
def test_value_and_activation_match_closed_form(lag, getkey):
    x = np.asarray(jax.random.normal(getkey(), (3, 5), jnp.float64)) * 2
    value, act = closed_form(lag, x)
    out = lag(jnp.asarray(x))
    assert out.shape == ()
    np.testing.assert_allclose(float(out), value, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(
        np.asarray(lag.activation(jnp.asarray(x))), act, rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("lag", list(configs()))
def test_convex_monotone_gradient(lag, getkey):
    # Convexity <=> monotone gradient: <grad L(a) - grad L(b), a - b> >= 0.
    for _ in range(20):
        a = jax.random.normal(getkey(), (2, 5), jnp.float64) * 3
        b = jax.random.normal(getkey(), (2, 5), jnp.float64) * 3
        inner = jnp.sum((lag.activation(a) - lag.activation(b)) * (a - b))
        assert inner >= -1e-12


@pytest.mark.parametrize("cls", LAGRANGIANS, ids=IDS)
@pytest.mark.parametrize("magnitude", [1e2, 1e3, 1e4])
def test_finite_at_extremes_float32(cls, magnitude):
    lag = cls()
    x = jnp.array(
        [[-magnitude, 0.0, magnitude, 1.0], [magnitude, magnitude, -1.0, 0.5]],
        jnp.float32,
    )
    value, act = lag(x), lag.activation(x)
    assert value.dtype == jnp.float32 and act.dtype == jnp.float32
    assert jnp.isfinite(value) and jnp.all(jnp.isfinite(act))


@pytest.mark.parametrize("lag", list(configs()))
def test_dtype_preserved(lag):
    x = jnp.linspace(-2, 2, 10, dtype=jnp.float32).reshape(2, 5)
    assert lag(x).dtype == jnp.float32
    assert lag.activation(x).dtype == jnp.float32


@pytest.mark.parametrize("lag", list(configs()))
def test_jit_vmap_grad_agree_with_eager(lag, getkey):
    xs = jax.random.normal(getkey(), (4, 2, 5), jnp.float64)
    eager = jnp.stack([lag.activation(x) for x in xs])
    np.testing.assert_allclose(jax.jit(jax.vmap(lag.activation))(xs), eager, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(jax.grad(lag))(xs), eager, rtol=1e-12)


@pytest.mark.parametrize("cls", [L.Tanh, L.Sigmoid], ids=["Tanh", "Sigmoid"])
def test_custom_jvp_against_finite_differences(cls, getkey):
    # Checks first and second order, in x and in a learnable beta.
    x = jax.random.normal(getkey(), (6,), jnp.float64)

    def f(x, beta):
        return cls(beta=jnp.asarray(beta))(jnp.asarray(x))

    check_grads(f, (x, jnp.asarray(1.3)), order=2, modes=["fwd", "rev"])


def test_relu_custom_jvp_first_and_second_order(getkey):
    # Away from the kink, finite differences of first and second order hold; the
    # Hessian of L is the indicator of x > 0 (0 at the kink, where L is C^1).
    x = jax.random.normal(getkey(), (7,), jnp.float64)
    check_grads(lambda x: L.ReLU()(jnp.asarray(x)), (x,), order=2, modes=["fwd", "rev"])
    xk = jnp.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(L.ReLU().activation(xk), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(jax.grad(L.ReLU())(xk), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(jnp.diag(jax.hessian(L.ReLU())(xk)), [0.0, 0.0, 1.0])


def test_learnable_hyperparameters_get_gradients(getkey):
    x = jax.random.normal(getkey(), (2, 5), jnp.float64)
    for cls, field in [
        (L.Softmax, "beta"),
        (L.Exp, "beta"),
        (L.LayerNorm, "gamma"),
        (L.RePU, "n"),
    ]:
        p0 = jnp.asarray(1.7)
        g = jax.grad(lambda p, cls=cls, field=field: cls(**{field: p})(x))(p0)
        eps = 1e-6
        fd = (cls(**{field: p0 + eps})(x) - cls(**{field: p0 - eps})(x)) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_softmax_multidimensional_is_per_row():
    x = jnp.arange(12.0).reshape(2, 2, 3) / 4
    act = L.Softmax().activation(x)
    np.testing.assert_allclose(act.sum(-1), np.ones((2, 2)), rtol=1e-12)
    act0 = L.Softmax(axis=0).activation(x)
    np.testing.assert_allclose(act0.sum(0), np.ones((2, 3)), rtol=1e-12)


def test_norm_delta_counted_once_per_element():
    # The original HAMUX added sum(delta * x) once per row.
    x = jnp.tile(jnp.arange(4.0), (3, 1))
    for cls in (L.LayerNorm, L.SphericalNorm):
        with_delta = cls(delta=0.5)(x)
        without = cls()(x)
        np.testing.assert_allclose(with_delta - without, 0.5 * x.sum(), rtol=1e-12)


def test_exp_overflow_guard_is_continuous_and_convex():
    y = jnp.linspace(39.0, 41.0, 201)
    act = L.Exp().activation(y)
    assert jnp.all(jnp.diff(act) > 0)
    np.testing.assert_allclose(
        L.Exp().activation(jnp.array(40.0)), np.exp(40.0), rtol=1e-9
    )


def test_functional_forms_equal_classes(getkey):
    x = jax.random.normal(getkey(), (2, 5), jnp.float64)
    pairs = [
        (L.lagr_identity(x), L.Identity()(x)),
        (L.lagr_repu(x, 3.0), L.RePU(3.0)(x)),
        (L.lagr_relu(x), L.ReLU()(x)),
        (L.lagr_exp(x, 2.0), L.Exp(2.0)(x)),
        (L.lagr_rexp(x, 2.0), L.RExp(2.0)(x)),
        (L.lagr_tanh(x, 2.0), L.Tanh(2.0)(x)),
        (L.lagr_sigmoid(x, 2.0), L.Sigmoid(2.0)(x)),
        (L.lagr_softmax(x, 2.0, axis=0), L.Softmax(2.0, axis=0)(x)),
        (L.lagr_ghostmax(x, 2.0), L.Ghostmax(2.0)(x)),
        (L.lagr_layernorm(x, 2.0, 0.1), L.LayerNorm(2.0, 0.1)(x)),
        (L.lagr_spherical_norm(x, 2.0, 0.1), L.SphericalNorm(2.0, 0.1)(x)),
    ]
    for a, b in pairs:
        assert a == b
    np.testing.assert_allclose(L.ghostmax(x), L.Ghostmax().activation(x))


BETA = r"expected `beta` to be finite and > 0 \(the Lagrangian divides by it"


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: L.RePU(n=0.5),
            r"RePU expected `n` to be finite and >= 1 \(the Lagrangian must be "
            r"convex\), got n=0.5",
        ),
        (lambda: L.RePU(n=float("inf")), r"RePU expected `n` .* got n=inf"),
        (lambda: L.LayerNorm(gamma=-1.0), r"LayerNorm expected `gamma` to be finite"),
        (
            lambda: L.SphericalNorm(gamma=-1.0),
            r"SphericalNorm expected `gamma` to be finite and >= 0",
        ),
        (
            lambda: L.LayerNorm(eps=-1e-3),
            r"LayerNorm expected `eps` to be finite and >= 0 \(it is added under a "
            r"square root; use e.g. eps=1e-5\), got eps=-0.001",
        ),
        (lambda: L.SphericalNorm(eps=float("nan")), r"`eps` .* got eps=nan"),
        # Issue #15: Tanh(beta=0) gave NaN energies reported as success.
        (
            lambda: L.Tanh(beta=0.0),
            rf"Tanh {BETA}.* use e.g. beta=1.0\), got beta=0.0\.",
        ),
        (lambda: L.Sigmoid(beta=-1.0), rf"Sigmoid {BETA}.*got beta=-1.0"),
        (lambda: L.Exp(beta=float("inf")), rf"Exp {BETA}.*got beta=inf"),
        (lambda: L.RExp(beta=np.array(0.0)), rf"RExp {BETA}.*got beta=array\(0.\)"),
        (lambda: L.Softmax(beta=float("nan")), rf"Softmax {BETA}.*got beta=nan"),
        (
            lambda: L.Ghostmax(beta=jnp.array(-2.0)),
            rf"Ghostmax {BETA}.*got beta=Array\(-2.",
        ),
        (lambda: L.lagr_tanh(jnp.ones(2), 0.0), rf"Tanh {BETA}"),
    ],
)
def test_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_traced_hyperparameters_are_not_checked_but_work():
    # Learnable beta is a feature: under jit and grad the value is traced.
    x = jnp.linspace(-1.0, 1.0, 5)
    f = jax.jit(lambda b: L.Tanh(beta=b)(x))
    assert np.isfinite(f(2.0))
    g = jax.grad(lambda b: L.Softmax(beta=b)(x))(1.5)
    assert np.isfinite(g)
    assert np.isfinite(jax.vmap(lambda b: L.Sigmoid(beta=b)(x))(jnp.ones(3))).all()
    assert L.Tanh(beta=jnp.asarray(2.0)).beta == 2.0
