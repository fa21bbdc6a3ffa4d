"""EuclideanHiddenSynapse: memories scored by distance (UHN's Euclidean similarity)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax.lagrangians import Identity, ReLU, Softmax
from hamax.synapses import EuclideanHiddenSynapse


def _memories(getkey, P=6, d=5):
    return np.asarray(jr.uniform(getkey(), (P, d), jnp.float64))


def test_energy_and_gradient_match_numpy(getkey):
    M = _memories(getkey)
    g = np.asarray(jr.uniform(getkey(), (5,), jnp.float64))
    beta = 1.7
    syn = EuclideanHiddenSynapse(6, Softmax(beta), Ws=(jnp.asarray(M.T),))
    h = M @ g - 0.5 * np.sum(M**2, axis=1)
    # Minus half the squared distance, up to a term shared by all memories.
    np.testing.assert_allclose(
        h, -0.5 * np.sum((M - g) ** 2, axis=1) + 0.5 * g @ g, rtol=1e-12
    )
    lse = np.log(np.sum(np.exp(beta * h - np.max(beta * h)))) + np.max(beta * h)
    np.testing.assert_allclose(syn(jnp.asarray(g)), -lse / beta, rtol=1e-12)
    p = np.exp(-0.5 * beta * np.sum((M - g) ** 2, axis=1))
    p /= p.sum()
    np.testing.assert_allclose(jax.grad(syn)(jnp.asarray(g)), -p @ M, rtol=1e-10)
    np.testing.assert_allclose(jax.jit(jax.grad(syn))(jnp.asarray(g)), -p @ M)
    np.testing.assert_allclose(syn.memories()[0], M)


def test_one_step_is_the_uhn_euclidean_update(getkey):
    M = _memories(getkey, P=7, d=4)
    qs = np.asarray(jr.uniform(getkey(), (3, 4), jnp.float64))
    syn = EuclideanHiddenSynapse(7, Softmax(3.0), Ws=(jnp.asarray(M.T),))
    ham = hamax.HAM(
        {"x": hamax.NeuronLayer(Identity(), 4)}, {"m": syn}, [(("x",), "m")]
    )
    out = jax.vmap(lambda q: hamax.descend(ham, {"x": q}, dt=1.0, steps=1).states)(
        jnp.asarray(qs)
    )
    for q, x in zip(qs, np.asarray(out["x"])):
        w = np.exp(-1.5 * np.sum((M - q) ** 2, axis=1))
        np.testing.assert_allclose(x, (w / w.sum()) @ M, rtol=1e-10)


def test_dtype_follows_memories(getkey):
    M = jnp.asarray(_memories(getkey), jnp.float32)
    syn = EuclideanHiddenSynapse(6, ReLU(), Ws=(M.T,))
    assert syn(jnp.ones(5, jnp.float32)).dtype == jnp.float32


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: EuclideanHiddenSynapse(0), r"`num_hidden` to be a positive int"),
        (lambda: EuclideanHiddenSynapse(True), r"`num_hidden` to be a positive int"),
        (
            lambda: EuclideanHiddenSynapse(3, Ws=(jnp.ones((4, 2)),)),
            r"shape \(d, num_hidden=3\), got \(4, 2\); store memories as columns",
        ),
        (
            lambda: EuclideanHiddenSynapse(2, Ws=(jnp.ones((4, 2)),))(jnp.ones(3)),
            r"memories of 4 elements got an activation of shape \(3,\)",
        ),
        (
            lambda: EuclideanHiddenSynapse(2, Ws=(jnp.ones((4, 2)),))(
                jnp.ones(4), jnp.ones(4)
            ),
            r"initialised for 1 layer\(s\) but got 2 activation",
        ),
        (
            lambda: EuclideanHiddenSynapse(2)(jnp.ones(4)),
            r"EuclideanHiddenSynapse has no parameters yet",
        ),
    ],
)
def test_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
