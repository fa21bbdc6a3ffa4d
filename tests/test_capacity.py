"""The zoo's associative memories store and retrieve at their defaults (issue #13)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from hamax import zoo
from hamax.lagrangians import RePU, Softmax


N = 100


def _patterns(p, seed):
    rng = np.random.default_rng(seed)
    return rng.choice(np.array([-1.0, 1.0], np.float32), size=(p, N))


def _corrupt(patterns, seed, frac=0.1):
    rng = np.random.default_rng(seed + 1000)
    q, n = patterns.shape
    idx = np.argsort(rng.random((q, n)), axis=1)[:, : round(frac * n)]
    flip = np.zeros((q, n), bool)
    np.put_along_axis(flip, idx, True, axis=1)
    return np.where(flip, -patterns, patterns)


def _restored(ham, patterns, seed, queries=100):
    target = patterns[:queries]
    g = np.asarray(zoo.recall(ham, jnp.asarray(_corrupt(target, seed))))
    ok = np.all(np.sign(g) == target, axis=1)
    return ok.mean(), g[ok]


@pytest.mark.parametrize("p", [5, 10])
def test_classical_hopfield_defaults_restore(p):
    # 0.05 N and 0.1 N, below the classical capacity 0.138 N; three pattern sets.
    fracs = []
    for seed in range(3):
        pats = _patterns(p, seed)
        frac, g = _restored(
            zoo.make_classical_hopfield(pats, dtype=jnp.float32), pats, seed
        )
        fracs.append(frac)
        # the pattern itself, not a scaled copy (a rare unit sits lower: crosstalk)
        assert np.mean(np.abs(g) > 0.9) >= 0.99
    assert np.mean(fracs) >= 0.9


def test_dense_am_repu3_at_p_equals_n():
    pats = _patterns(N, 0)
    ham = zoo.make_dense_am(memories=pats, separation=RePU(3.0), dtype=jnp.float32)
    frac, g = _restored(ham, pats, 0)
    assert frac >= 0.9
    assert np.all(np.abs(g) > 0.9)


def test_dense_am_softmax_default_at_4n():
    pats = _patterns(4 * N, 1)
    ham = zoo.make_dense_am(memories=pats, dtype=jnp.float32)  # no key needed
    frac, g = _restored(ham, pats, 1)
    assert frac >= 0.9
    assert np.all(np.abs(g) > 0.9)


def test_stored_pattern_is_a_fixed_point_and_energy_falls():
    pats = _patterns(20, 2)
    ham = zoo.make_dense_am(memories=pats, separation=RePU(3.0), dtype=jnp.float32)
    g = zoo.recall(ham, jnp.asarray(pats[0]))
    np.testing.assert_array_equal(np.sign(g), pats[0])
    cue = jnp.asarray(_corrupt(pats[:1], 2)[0])
    assert float(ham.energy({"x": jnp.asarray(pats[0])})) < float(
        ham.energy({"x": cue})
    )
    # the drive a stored pattern sends to itself has the pattern's signs
    grad = ham.energy_grad({"x": jnp.asarray(pats[0])})["x"]
    np.testing.assert_array_equal(np.sign(-grad + pats[0]), pats[0])


def test_dense_am_random_memories_need_key_only_then(getkey):
    ham = zoo.make_dense_am(32, num_memories=7, key=getkey())
    (mem,) = ham.synapses["memories"].memories()
    assert mem.shape == (1, 7, 32)
    np.testing.assert_array_equal(np.abs(np.asarray(mem)), 1.0)
    # backward-compatible call: `beta` is shorthand for Softmax(beta)
    ham = zoo.make_dense_am(32, memories=np.ones((3, 32)), beta=8.0, key=getkey())
    assert ham.synapses["memories"].lagrangian == Softmax(8.0)


def test_recall_batches_like_a_loop():
    pats = _patterns(10, 3)
    ham = zoo.make_classical_hopfield(pats, dtype=jnp.float32)
    cues = jnp.asarray(_corrupt(pats[:4], 3)).reshape(2, 2, N)
    batched = zoo.recall(ham, cues)
    assert batched.shape == (2, 2, N)
    np.testing.assert_allclose(batched[1, 0], zoo.recall(ham, cues[1, 0]), atol=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (
            lambda: zoo.make_classical_hopfield(jnp.ones(5)),
            r"make_classical_hopfield expected `patterns` of shape \(num_patterns, "
            r"num_neurons\), got \(5,\)",
        ),
        (
            lambda: zoo.make_classical_hopfield(jnp.array([[1.0, 0.0, -1.0]])),
            r"make_classical_hopfield expected `patterns` with entries \+1 and -1, "
            r"got 1 other value\(s\), e.g. 0.0. Map \{0, 1\} data with 2 \* p - 1",
        ),
        (
            lambda: zoo.make_classical_hopfield(jnp.ones((2, 3)), beta=0.0),
            r"make_classical_hopfield expected `beta` > 0, got 0.0",
        ),
        (
            lambda: zoo.make_dense_am(memories=jnp.ones(4)),
            r"make_dense_am expected `memories` of shape \(num_patterns, "
            r"num_neurons\), got \(4,\)",
        ),
        (
            lambda: zoo.make_dense_am(memories=jnp.array([[1.0, jnp.nan]])),
            r"make_dense_am got `memories` containing NaN or inf",
        ),
        (
            lambda: zoo.make_dense_am(memories=jnp.ones((2, 3)), separation="exp"),
            r"make_dense_am expected `separation` to be a Lagrangian, e.g. "
            r"hamax.lagrangians.RePU\(3.0\) or Softmax\(1.0\), got str 'exp'",
        ),
        (
            lambda: zoo.make_dense_am(memories=jnp.ones((2, 3)), separation=RePU),
            r"make_dense_am expected `separation` to be a Lagrangian instance, got "
            r"the class RePU; call it, e.g. separation=RePU\(\)",
        ),
        (
            lambda: zoo.make_dense_am(
                memories=jnp.ones((2, 3)), beta=2.0, separation=RePU(3.0)
            ),
            r"make_dense_am got both `beta`=2.0 and `separation`=.*give only one",
        ),
        (
            lambda: zoo.make_dense_am(16),
            r"make_dense_am needs `memories` to store, or a `key` to draw 100 random",
        ),
        (
            lambda: zoo.make_dense_am(key=jr.key(0)),
            r"make_dense_am needs `dim` \(the number of visible neurons\)",
        ),
        (
            lambda: zoo.make_dense_am(5, memories=jnp.ones((2, 3))),
            r"make_dense_am got `dim`=5 but memories of dimension 3 \(shape \(2, 3\)\)",
        ),
        (
            lambda: zoo.make_dense_am(memories=jnp.ones((2, 3)), visible_beta=-1.0),
            r"make_dense_am expected `visible_beta` > 0, got -1.0",
        ),
        (
            lambda: zoo.make_dense_am(4, num_memories=0, key=jr.key(0)),
            r"make_dense_am expected `num_memories` to be a positive int, got 0",
        ),
    ],
)
def test_factory_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "kwargs, cue_shape, match",
    [
        (dict(layer="y"), (3,), r"recall got layer='y', which is not a neuron layer"),
        ({}, (4,), r"recall expected `cue` of shape \(3,\) .* got \(4,\)"),
        (dict(dt=0.0), (3,), r"recall expected `dt` > 0, got dt=0.0"),
        (dict(steps=-1), (3,), r"recall expected `steps` to be an int >= 0, got -1"),
    ],
)
def test_recall_errors(kwargs, cue_shape, match):
    ham = zoo.make_classical_hopfield(jnp.ones((1, 3)))
    with pytest.raises(ValueError, match=match):
        zoo.recall(ham, jnp.ones(cue_shape), **kwargs)
