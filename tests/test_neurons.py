import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hamax
import hamax.lagrangians as L


def test_legendre_energy_value_and_gradients(getkey):
    x = jax.random.normal(getkey(), (2, 3), jnp.float64)
    bias = jax.random.normal(getkey(), (2, 3), jnp.float64)
    layer = hamax.NeuronLayer(L.Tanh(), (2, 3), bias=bias)
    g = layer.activation(x)
    # value: <x - I, g> - L(x), with L(x) = sum log cosh x
    ref = np.sum((np.asarray(x) - np.asarray(bias)) * np.tanh(x)) - np.sum(
        np.log(np.cosh(x))
    )
    np.testing.assert_allclose(layer.energy(x), ref, rtol=1e-12)
    np.testing.assert_allclose(layer.energy(x, g), ref, rtol=1e-12)
    # dE/dg = x - I exactly, dE/dx = 0 on the manifold, dE/dI = -g
    dg = jax.grad(lambda g: layer.energy(x, g))(g)
    np.testing.assert_array_equal(dg, x - bias)
    np.testing.assert_array_equal(layer.energy_grad(x), x - bias)
    dx = jax.grad(lambda x: hamax.legendre_energy(layer.lagrangian, x, g, bias))(x)
    np.testing.assert_array_equal(dx, np.zeros((2, 3)))
    db = jax.grad(lambda b: hamax.legendre_energy(layer.lagrangian, x, g, b))(bias)
    np.testing.assert_allclose(db, -g, rtol=1e-12)


def test_legendre_gradient_of_learnable_lagrangian(getkey):
    # With g held fixed, dE/dbeta = -dL/dbeta (envelope theorem); compare with
    # central finite differences of the plain formula.
    x = jax.random.normal(getkey(), (5,), jnp.float64)
    g = L.Softmax(beta=jnp.asarray(2.0)).activation(x)

    def energy(beta):
        return hamax.legendre_energy(L.Softmax(beta=beta), x, g)

    def plain(beta):
        return jnp.sum(x * g) - L.Softmax(beta=beta)(x)

    grad = jax.grad(energy)(jnp.asarray(2.0))
    eps = 1e-6
    fd = (plain(jnp.asarray(2.0 + eps)) - plain(jnp.asarray(2.0 - eps))) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-7)


def test_energy_is_bounded_below_by_legendre_duality(getkey):
    # E_layer(x) = L*(g) >= 0 for ReLU (L* of 1/2 relu^2 is 1/2 g^2 on g >= 0).
    layer = hamax.NeuronLayer(L.ReLU(), 7)
    x = jax.random.normal(getkey(), (7,), jnp.float64)
    np.testing.assert_allclose(
        layer.energy(x), 0.5 * np.sum(np.maximum(x, 0) ** 2), rtol=1e-12
    )


def test_function_lagrangian_and_jit_vmap(getkey):
    layer = hamax.NeuronLayer(L.lagr_sigmoid, 4)
    xs = jax.random.normal(getkey(), (3, 4), jnp.float64)
    eager = jnp.stack([layer.energy(x) for x in xs])
    np.testing.assert_allclose(jax.jit(jax.vmap(layer.energy))(xs), eager, rtol=1e-12)
    np.testing.assert_allclose(
        layer.activation(xs[0]), jax.nn.sigmoid(xs[0]), rtol=1e-12
    )


def test_init_state(getkey):
    layer = hamax.NeuronLayer(L.Identity(), 3)
    assert layer.shape == (3,)
    z = layer.init_state(dtype=jnp.float32)
    assert z.dtype == jnp.float32 and not z.any()
    r = layer.init_state(scale=0.5, key=getkey())
    assert r.shape == (3,) and r.dtype == jnp.float64 and r.any()


def test_dtype_preserved():
    layer = hamax.NeuronLayer(L.Softmax(), 4, bias=jnp.ones(4, jnp.float32))
    x = jnp.ones(4, jnp.float32)
    assert layer.energy(x).dtype == jnp.float32
    assert layer.activation(x).dtype == jnp.float32


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(lagrangian=L.ReLU(), shape=3, tau=0.0),
            r"NeuronLayer expected `tau` to be a finite positive number, got tau=0.0",
        ),
        (dict(lagrangian=L.ReLU(), shape=3, tau=float("inf")), r"got tau=inf"),
        (dict(lagrangian=L.ReLU(), shape=3, tau=float("nan")), r"got tau=nan"),
        (dict(lagrangian=L.ReLU(), shape=3, tau=-1.0), r"got tau=-1.0"),
        (
            dict(lagrangian=L.ReLU(), shape=(3, 0)),
            r"NeuronLayer expected `shape` to hold positive integers",
        ),
        (
            dict(lagrangian=L.ReLU(), shape="abc"),
            r"NeuronLayer expected `shape` to be an int or a tuple of ints, got .abc.",
        ),
        (
            dict(lagrangian=L.ReLU, shape=3),
            r"NeuronLayer expected a Lagrangian instance, got the class ReLU. Write `ReLU\(\)`",
        ),
        (
            dict(lagrangian=3.0, shape=3),
            r"NeuronLayer expected `lagrangian` to be callable",
        ),
        (
            dict(lagrangian=L.LogSumReLU(), shape=3),
            r"NeuronLayer got LogSumReLU, which is a separation function \(not convex\)",
        ),
        (
            dict(lagrangian=L.ReLU(), shape=3, bias=jnp.ones(4)),
            r"NeuronLayer expected `bias` broadcastable to shape \(3,\), got bias.shape=\(4,\)",
        ),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hamax.NeuronLayer(**kwargs)


def test_init_state_scale_without_key():
    with pytest.raises(ValueError, match=r"init_state got `scale` != 0 but no `key`"):
        hamax.NeuronLayer(L.ReLU(), 3).init_state(scale=1.0)
