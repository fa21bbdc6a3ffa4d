"""Sparsemax, Entmax and LogSumReLU as separation functions: inside
DenseHiddenSynapse and the zoo's Dense AM, under descent, and through the
architecture spec (issue #24, item 3)."""

import io
import json

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hamax
from hamax import lagrangians as L, synapses as S, zoo

from .entmax_reference import entmax_reference


N = 16
# Separations for +-1 memories of N bits: the entmax family on raw overlaps
# (spaced by 2, so the support is the nearest memory unless two tie), and the
# Epanechnikov energy with its kernel peaked at an exact match (shift = N) and a
# support of 3 bits around the state (1/beta = 6 overlap units).
SEPARATIONS = {
    "sparsemax": L.Sparsemax(),
    "entmax1.5": L.Entmax(),
    "entmax1.25": L.Entmax(alpha=1.25),
    "log_sum_relu": L.LogSumReLU(beta=1 / 6, shift=float(N)),
}


def _reference_activation(sep, h):
    """NumPy f = dF/dh, independent of hamax."""
    h = np.asarray(h, np.float64)
    if isinstance(sep, L.LogSumReLU):
        u = 1 + sep.beta * (h - sep.shift)
        return (u > 0) / (np.maximum(u, 0).sum(-1, keepdims=True) + sep.eps)
    alpha = 2.0 if isinstance(sep, L.Sparsemax) else sep.alpha
    return entmax_reference(float(sep.beta) * h, alpha)


def _patterns(p, seed):
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0]), size=(p, N))


@pytest.mark.parametrize("name", list(SEPARATIONS))
def test_dense_hidden_synapse_energy_and_gradient(name, getkey):
    sep = SEPARATIONS[name]
    syn = S.DenseHiddenSynapse(7, sep).init([(N,)], key=getkey(), dtype=jnp.float64)
    Xi = np.asarray(syn.memories()[0][0])  # (7, N)
    Xi = Xi * np.sqrt(N) * 2  # overlaps of order N, where the supports are sparse
    syn = eqx.tree_at(lambda s: s.Ws, syn, (jnp.asarray(Xi.T[:, None, :]),))
    g = jnp.tanh(jax.random.normal(getkey(), (N,), jnp.float64))
    h = Xi @ np.asarray(g)
    np.testing.assert_allclose(syn(g), -sep(jnp.asarray(h[None])), rtol=1e-13)
    grad = jax.grad(syn)(g)
    expected = -Xi.T @ _reference_activation(sep, h[None])[0]
    np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(SEPARATIONS))
def test_dense_am_restores_and_descends(name):
    sep = SEPARATIONS[name]
    pats = _patterns(12, 0)
    ham = zoo.make_dense_am(memories=pats, separation=sep)
    # Two bits flipped in every stored pattern.
    cues = pats.copy()
    cues[:, :2] *= -1
    g = np.asarray(zoo.recall(ham, jnp.asarray(cues)))
    restored = np.all(np.sign(g) == pats, axis=1)
    assert restored.mean() >= 0.9
    assert np.all(np.abs(g[restored]) > 0.99)  # the pattern, not a scaled copy

    # Energy non-increasing along the descent, for every cue.
    def energies(c):
        x0 = {"x": c}
        sol = hamax.descend(ham, x0, dt=0.05, steps=60, save=hamax.Save(energy=True))
        return sol.energies

    E = np.asarray(jax.jit(jax.vmap(energies))(jnp.asarray(cues)))
    assert np.all(np.isfinite(E))
    assert np.all(np.diff(E, axis=1) <= 1e-9 * (1 + np.abs(E[:, :-1])))
    assert np.all(E[:, -1] < E[:, 0])


def test_dense_am_float32_extreme_cues():
    pats = _patterns(6, 1)
    cues = jnp.asarray(1e4 * pats[:3], jnp.float32)  # far outside the cube
    for name in ("entmax1.25", "log_sum_relu"):  # bisection, and the non-convex one
        sep = SEPARATIONS[name]
        ham = zoo.make_dense_am(memories=pats, separation=sep, dtype=jnp.float32)
        g = zoo.recall(ham, cues)
        assert g.dtype == jnp.float32 and np.all(np.isfinite(g))
        np.testing.assert_array_equal(np.sign(g), pats[:3])


def _restored(model):
    text = json.dumps(hamax.to_spec(model), allow_nan=False)
    like = hamax.from_spec(json.loads(text))
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, model)
    buf.seek(0)
    return eqx.tree_deserialise_leaves(buf, like)


def test_spec_round_trip(getkey):
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), (6,)),
        "label": hamax.NeuronLayer(L.Entmax(alpha=1.3, beta=2.0), 4),
        "topic": hamax.NeuronLayer(L.Sparsemax(jnp.asarray(1.5)), 3),
    }
    synapses = {
        "sparse": S.DenseHiddenSynapse(5, L.Entmax()),
        "lsr": S.DenseHiddenSynapse(
            4, L.LogSumReLU(beta=0.5, shift=2.0, eps=1e-3), normalize=True
        ),
        "dense": S.DenseSynapse(),
        "pair": S.DenseHiddenSynapse(3, L.Sparsemax(axis=None), num_heads=2),
    }
    connections = [
        (("image", "label"), "sparse"),
        (("image",), "lsr"),
        (("label", "topic"), "dense"),
        (("image", "topic"), "pair"),
    ]
    ham = hamax.HAM(neurons, synapses, connections, key=getkey())
    loaded = _restored(ham)
    assert bool(eqx.tree_equal(loaded, ham))
    assert hamax.to_spec(hamax.from_spec(hamax.to_spec(ham))) == hamax.to_spec(ham)
    xs = ham.init_states(scale=1.0, key=getkey())
    assert loaded.energy(xs) == ham.energy(xs)
    assert np.isfinite(ham.energy(xs))
    # The zoo's Dense AM rebuilds too.
    sep = SEPARATIONS["log_sum_relu"]
    am = zoo.make_dense_am(memories=_patterns(5, 2), separation=sep)
    back = _restored(am)
    assert bool(eqx.tree_equal(back, am))
    assert back.synapses["memories"].lagrangian == sep
