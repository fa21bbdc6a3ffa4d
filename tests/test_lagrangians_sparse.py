"""Sparsemax, Entmax and LogSumReLU (issue #24, item 3): beyond the registry suite
in test_lagrangians.py, which covers Sparsemax and Entmax at two settings each."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from jax.test_util import check_grads

import hamax.lagrangians as L

from .entmax_reference import conjugate_value, entmax_reference
from .helpers import finite_difference_grad


# Every algorithm: the two sorts (alpha = 2, 1.5) and bisection on both sides of 2.
ENTMAX = [
    L.Sparsemax(),
    L.Sparsemax(beta=0.5),
    L.Entmax(),
    L.Entmax(alpha=1.25, beta=2.0),
    L.Entmax(alpha=3.0),
    L.Entmax(alpha=2.0),
]
IDS = ["sparsemax", "sparsemax-b0.5", "entmax1.5", "entmax1.25", "entmax3", "entmax2"]


def _alpha(lag):
    return 2.0 if isinstance(lag, L.Sparsemax) else lag.alpha


def _simplex_max(y, alpha):
    """max over the simplex of <p, y> + H_alpha(p), by a generic constrained solver
    (SLSQP): independent of every threshold algorithm."""
    d = y.size

    def neg(p):
        q = np.maximum(p, 0)
        return -(q @ y + (1 - np.sum(q**alpha)) / (alpha * (alpha - 1)))

    res = scipy.optimize.minimize(
        neg,
        np.full(d, 1 / d),
        method="SLSQP",
        bounds=[(0, 1)] * d,
        constraints=[{"type": "eq", "fun": lambda p: np.sum(p) - 1}],
        options={"ftol": 1e-14, "maxiter": 500},
    )
    return -res.fun, np.maximum(res.x, 0)


@pytest.mark.parametrize("alpha", [1.25, 1.5, 2.0, 3.0])
def test_value_is_the_simplex_maximum(alpha, getkey):
    lag = L.Entmax(alpha=alpha)
    for _ in range(3):
        y = np.asarray(jax.random.normal(getkey(), (5,), jnp.float64)) * 1.5
        value, p = _simplex_max(y, alpha)
        np.testing.assert_allclose(float(lag(jnp.asarray(y))), value, atol=1e-7)
        np.testing.assert_allclose(lag.activation(jnp.asarray(y)), p, atol=2e-4)


@pytest.mark.parametrize("lag", ENTMAX, ids=IDS)
def test_activation_is_gradient_by_finite_differences(lag, getkey):
    x = np.asarray(jax.random.normal(getkey(), (2, 5), jnp.float64)) * 2
    fd = finite_difference_grad(lambda v: lag(jnp.asarray(v)), x)
    np.testing.assert_allclose(lag.activation(jnp.asarray(x)), fd, atol=1e-8)


@pytest.mark.parametrize("lag", ENTMAX, ids=IDS)
def test_on_the_simplex_and_sparse(lag, getkey):
    x = jax.random.normal(getkey(), (50, 8), jnp.float64) * 3
    p = np.asarray(jax.jit(lag.activation)(x))
    ref = entmax_reference(float(lag.beta) * np.asarray(x), _alpha(lag))
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-14)
    # Exactly zero where the reference is zero: the support is found exactly.
    np.testing.assert_array_equal(p == 0, ref == 0)
    assert 0 < np.mean(p == 0) < 1
    np.testing.assert_allclose(p, ref, atol=1e-12)


@pytest.mark.parametrize("lag", ENTMAX, ids=IDS)
def test_hessian_is_psd_and_the_entmax_jacobian(lag, getkey):
    # Convexity as a PSD Hessian, and the closed-form Jacobian of Peters et al.
    # (2019): diag(w) - w w^T / sum(w) with w = p^(2 - alpha) on the support.
    alpha, beta = _alpha(lag), float(lag.beta)
    hess = jax.jit(jax.hessian(lag))
    for _ in range(5):
        x = jax.random.normal(getkey(), (6,), jnp.float64) * 2
        H = np.asarray(hess(x))
        p = np.asarray(lag.activation(x))
        w = np.zeros_like(p)
        w[p > 0] = p[p > 0] ** (2 - alpha)
        J = beta * (np.diag(w) - np.outer(w, w) / w.sum())
        np.testing.assert_allclose(H, J, atol=1e-10)
        assert np.linalg.eigvalsh(H).min() >= -1e-12


@pytest.mark.parametrize("lag", ENTMAX, ids=IDS)
def test_midpoint_convex(lag, getkey):
    f = jax.jit(jax.vmap(lag))
    a = jax.random.normal(getkey(), (200, 6), jnp.float64) * 3
    b = jax.random.normal(getkey(), (200, 6), jnp.float64) * 3
    assert np.all(f((a + b) / 2) <= (f(a) + f(b)) / 2 + 1e-12)


# Bisection and a sort; alpha = 3's Hessian is checked above.
@pytest.mark.parametrize("alpha", [1.25, 1.5])
def test_second_order_custom_jvp(alpha, getkey):
    # Away from the support's boundary, in x and in a learnable beta.
    x = jnp.array([0.9, 0.1, -1.7, 0.55, 1.3])

    def f(x, beta):
        return L.Entmax(alpha=alpha, beta=jnp.asarray(beta))(jnp.asarray(x))

    check_grads(f, (x, jnp.asarray(1.3)), order=2, modes=["fwd", "rev"])


def test_alpha_limits():
    x = jnp.array([[1.0, 0.5, -2.0, 0.9], [3.0, 2.5, -1.0, 0.0]])
    # alpha -> 1: Softmax, with an error proportional to alpha - 1.
    errs = []
    for d in (1e-2, 1e-3, 1e-4):
        lag = L.Entmax(alpha=1 + d, beta=2.0)
        err_v = abs(float(lag(x) - L.Softmax(beta=2.0)(x)))
        err_g = float(jnp.abs(lag.activation(x) - L.Softmax(2.0).activation(x)).max())
        errs.append((err_v, err_g))
    for (v0, g0), (v1, g1) in zip(errs, errs[1:]):
        assert 8 < v0 / v1 < 12 and 8 < g0 / g1 < 12
    assert errs[-1][0] < 1e-3 and errs[-1][1] < 1e-4
    # alpha = 2 is Sparsemax (the same sort), and bisection next to it agrees.
    np.testing.assert_array_equal(L.Entmax(alpha=2.0)(x), L.Sparsemax()(x))
    np.testing.assert_allclose(
        L.Entmax(alpha=2 + 1e-9).activation(x), L.sparsemax(x), atol=1e-7
    )


def test_known_values():
    # Sparsemax is the Euclidean projection onto the simplex, L = tau + |p|^2/2 + 1/2.
    x = jnp.array([1.0, 0.5, -2.0, 0.9])
    p = np.array([1 - 7 / 15, 0.5 - 7 / 15, 0.0, 0.9 - 7 / 15])  # tau = 7/15
    np.testing.assert_allclose(L.sparsemax(x), p, rtol=1e-14)
    np.testing.assert_allclose(
        L.Sparsemax()(x), 7 / 15 + 0.5 * np.sum(p**2) + 0.5, rtol=1e-14
    )
    # A clear winner takes all, and then L(x) = max(x) for every alpha.
    y = jnp.array([5.0, 1.0, -3.0])
    for lag in (L.Sparsemax(), L.Entmax(), L.Entmax(alpha=1.7)):
        np.testing.assert_array_equal(lag.activation(y), [1.0, 0.0, 0.0])
        np.testing.assert_allclose(lag(y), 5.0, rtol=1e-14)
    # Ties share the mass equally.
    np.testing.assert_allclose(L.entmax(jnp.array([2.0, 2.0, -9.0])), [0.5, 0.5, 0])


@pytest.mark.parametrize("make", [L.Sparsemax, L.Entmax, lambda: L.Entmax(1.3)])
@pytest.mark.parametrize("magnitude", [1e2, 1e4])
def test_finite_values_and_gradients_at_extremes_float32(make, magnitude):
    lag = make()
    m = magnitude
    x = jnp.array([[-m, 0.0, m, 1.0], [m, m, -1.0, 0.5], [-m, -m, -m, -m]], "float32")
    value, act = lag(x), lag.activation(x)
    assert value.dtype == act.dtype == jnp.float32
    assert np.isfinite(value) and np.all(np.isfinite(act))
    np.testing.assert_allclose(act.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(act[0], [0, 0, 1, 0])
    np.testing.assert_allclose(act[1], [0.5, 0.5, 0, 0])
    # The value keeps float32 precision: the row maxima plus O(1) terms.
    np.testing.assert_allclose(value, lag(x.astype("float64")), rtol=1e-6)
    hvp = jax.jvp(lag.activation, (x,), (jnp.ones_like(x),))[1]
    assert np.all(np.isfinite(hvp))


@pytest.mark.parametrize("make", [L.Entmax, lambda: L.Entmax(3.0), L.LogSumReLU])
def test_jit_vmap_grad_agree_with_eager(make, getkey):
    lag = make()
    xs = jax.random.normal(getkey(), (4, 2, 5), jnp.float64)
    eager = jnp.stack([lag.activation(x) for x in xs])
    np.testing.assert_allclose(jax.jit(jax.vmap(lag.activation))(xs), eager, rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(jax.grad(lag))(xs), eager, rtol=1e-12)
    values = jnp.stack([lag(x) for x in xs])
    np.testing.assert_allclose(jax.jit(jax.vmap(lag))(xs), values, rtol=1e-12)


@pytest.mark.parametrize("cls", [L.Sparsemax, L.Entmax])
def test_axes(cls, getkey):
    x = jax.random.normal(getkey(), (3, 4, 2), jnp.float64)
    for axis in (0, (0, 2), None):
        lag = cls(axis=axis)
        act = lag.activation(x)
        np.testing.assert_allclose(act.sum(axis=axis), 1.0, rtol=1e-13)
        # The same as moving the axes last, flattening them, and using axis=-1.
        axes = tuple(range(3)) if axis is None else np.atleast_1d(axis).tolist()
        rest = [a for a in range(3) if a not in axes]
        rows = jnp.transpose(x, rest + list(axes)).reshape(
            *[x.shape[a] for a in rest], -1
        )
        np.testing.assert_allclose(lag(x), cls()(rows), rtol=1e-13)
    np.testing.assert_allclose(
        L.sparsemax(x, axis=0), L.Sparsemax(axis=0).activation(x)
    )
    np.testing.assert_allclose(
        L.entmax(x, 1.5, axis=(0, 2)), L.Entmax(axis=(0, 2)).activation(x)
    )


def test_function_forms_and_learnable_beta(getkey):
    x = jax.random.normal(getkey(), (2, 5), jnp.float64)
    assert L.lagr_sparsemax(x, 2.0) == L.Sparsemax(2.0)(x)
    assert L.lagr_entmax(x, 1.3, 2.0, axis=0) == L.Entmax(1.3, 2.0, axis=0)(x)
    np.testing.assert_array_equal(L.entmax(x, 1.5), L.Entmax().activation(x))
    for cls in (L.Sparsemax, lambda beta: L.Entmax(1.3, beta)):
        p0, eps = jnp.asarray(1.7), 1e-6
        g = jax.grad(lambda b, cls=cls: cls(b)(x))(p0)
        fd = (cls(p0 + eps)(x) - cls(p0 - eps)(x)) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=1e-6)
    assert np.isfinite(jax.jit(lambda b: L.Entmax(beta=b)(x))(2.0))
    # hamax.learnable hyperparameters: the same values, and gradients to `raw`.
    for fixed, learned in [
        (L.Sparsemax(2.0), L.Sparsemax(L.learnable(2.0))),
        (L.Entmax(1.3, 2.0), L.Entmax(1.3, L.learnable(2.0))),
        (
            L.LogSumReLU(0.5, shift=1.0),
            L.LogSumReLU(L.learnable(0.5), shift=L.learnable(1.0, lower=None)),
        ),
    ]:
        np.testing.assert_allclose(learned(x), fixed(x), rtol=1e-14)
        grads = jax.grad(lambda m: m(x))(learned)
        assert np.isfinite(grads.beta.raw) and grads.beta.raw != 0


def _lsr_reference(x, beta, shift, eps):
    u = 1 + beta * (np.asarray(x, np.float64) - shift)
    mass = np.maximum(u, 0).sum(-1, keepdims=True)
    return (np.log(mass + eps) / beta).sum(), (u > 0) / (mass + eps)


def test_log_sum_relu_closed_form(getkey):
    for lag in (L.LogSumReLU(), L.LogSumReLU(beta=0.5, shift=1.5, eps=1e-3)):
        x = np.asarray(jax.random.normal(getkey(), (3, 6), jnp.float64)) * 2
        value, act = _lsr_reference(x, lag.beta, lag.shift, lag.eps)
        np.testing.assert_allclose(lag(jnp.asarray(x)), value, rtol=1e-13)
        np.testing.assert_allclose(lag.activation(jnp.asarray(x)), act, rtol=1e-13)
        fd = finite_difference_grad(lambda v, lag=lag: lag(jnp.asarray(v)), x)
        np.testing.assert_allclose(lag.activation(jnp.asarray(x)), fd, atol=1e-7)


def test_log_sum_relu_convexity_is_as_documented(getkey):
    lag = L.LogSumReLU(beta=2.0, eps=1e-4)
    x = jnp.array([0.3, -0.1, -2.0, 0.8])  # units 0, 1, 3 active (x > -1/2)
    active = np.array([1.0, 1.0, 0.0, 1.0])
    mass = float(np.sum(np.maximum(1 + 2.0 * np.asarray(x), 0)))
    # Concave inside a cell of fixed active set: Hessian -beta 1_A 1_A^T / (eps+S)^2.
    H = jax.hessian(lag)(x)
    np.testing.assert_allclose(
        H, -2.0 * np.outer(active, active) / (mass + 1e-4) ** 2, rtol=1e-12
    )
    assert np.linalg.eigvalsh(np.asarray(H)).max() <= 1e-12
    # ...so not convex: the midpoint of two points of that cell lies above the
    # chord, which is why LogSumReLU is no AbstractLagrangian.
    a, b = x, x + jnp.array([0.4, 0.2, 0.0, 0.1])
    assert lag((a + b) / 2) > (lag(a) + lag(b)) / 2 + 1e-6
    assert not isinstance(lag, L.AbstractLagrangian)
    # Convex across a kink: a unit entering the support increases the slope.
    f = jax.grad(lambda t: lag(jnp.array([t, -5.0, -5.0, -5.0])))
    assert f(-0.49) > f(-0.51) == 0.0
    # Constant, with zero gradient, where no unit is active.
    y = jnp.full(4, -3.0)
    np.testing.assert_allclose(lag(y), np.log(1e-4) / 2.0, rtol=1e-14)
    np.testing.assert_array_equal(lag.activation(y), 0.0)


@pytest.mark.parametrize("magnitude", [1e2, 1e4])
def test_log_sum_relu_finite_at_extremes_float32(magnitude):
    lag = L.LogSumReLU(beta=1.0, shift=3.0)
    m = magnitude
    x = jnp.array([[-m, 0.0, m, 1.0], [-m, -m, -m, -m]], "float32")
    value, act = lag(x), lag.activation(x)
    assert value.dtype == act.dtype == jnp.float32
    assert np.isfinite(value) and np.all(np.isfinite(act))
    assert np.all(act >= 0) and np.all(act[1] == 0)
    assert np.all(np.isfinite(jax.hessian(lag)(x[0])))


BETA = r"expected `beta` to be finite and > 0 \(the Lagrangian divides by it"


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (
            lambda: L.Entmax(alpha=1.0),
            ValueError,
            r"Entmax expected `alpha` to be finite and > 1 \(alpha = 1 is the softmax "
            r"limit, use Softmax; alpha = 2 is sparsemax\), got alpha=1.0\.",
        ),
        (lambda: L.Entmax(alpha=0.5), ValueError, r"Entmax expected `alpha`.*0.5"),
        (lambda: L.Entmax(alpha=float("nan")), ValueError, r"`alpha` .* alpha=nan"),
        (lambda: L.Entmax(alpha=float("inf")), ValueError, r"`alpha` .* alpha=inf"),
        # An array alpha meets the test suite's runtime type checker first.
        (lambda: L.Entmax(alpha=jnp.asarray(1.5)), TypeError, r"alpha"),
        (
            lambda: L.Entmax(alpha=True),
            TypeError,
            r"Entmax expected `alpha` to be a Python float \(it chooses the "
            r"algorithm when the function is traced, so it cannot be learned\), got "
            r"bool True. Write e.g. alpha=1.5.",
        ),
        (lambda: L.entmax(jnp.ones(3), alpha=1.0), ValueError, r"entmax expected"),
        (lambda: L.Entmax(beta=0.0), ValueError, rf"Entmax {BETA}.*got beta=0.0"),
        (lambda: L.Sparsemax(beta=-1.0), ValueError, rf"Sparsemax {BETA}.*beta=-1.0"),
        (lambda: L.lagr_sparsemax(jnp.ones(2), 0.0), ValueError, rf"Sparsemax {BETA}"),
        (lambda: L.LogSumReLU(beta=0.0), ValueError, rf"LogSumReLU {BETA}"),
        (
            lambda: L.LogSumReLU(eps=0.0),
            ValueError,
            r"LogSumReLU expected `eps` to be finite and > 0 \(it keeps the log finite "
            r"where no memory is active; use e.g. eps=1e-6\), got eps=0.0\.",
        ),
        (
            lambda: L.LogSumReLU(shift=float("nan")),
            ValueError,
            r"LogSumReLU expected `shift` to be finite .*\(the overlap of an exact "
            r"match, e.g. shift=N for ±1 memories\), got shift=nan",
        ),
    ],
)
def test_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_reference_is_the_simplex_maximum_too():
    # The NumPy reference the registry suite uses agrees with the generic solver.
    y = np.array([0.3, -1.2, 0.8, 0.75, 0.1])
    for alpha in (1.3, 2.0):
        value, p = _simplex_max(y, alpha)
        ref = entmax_reference(y[None], alpha)
        np.testing.assert_allclose(
            conjugate_value(y[None], ref, alpha), value, atol=1e-8
        )
        np.testing.assert_allclose(ref[0], p, atol=2e-4)
