"""hamax.memory.outcomes: what a recall ended on, on constructed cases (issue #24)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.linalg import hadamard

import hamax
from hamax import zoo
from hamax.lagrangians import Identity, ReLU, Softmax
from hamax.memory import outcomes
from hamax.synapses import DenseHiddenSynapse, EuclideanHiddenSynapse


P, D = 8, 16
# Orthogonal +-1 memories: overlaps are exact, so shares are known in closed form.
MEM = hadamard(D)[1 : P + 1].astype(np.float64)


def _ham(lagrangian=Softmax(1.0), synapse=DenseHiddenSynapse):
    W = MEM.T[:, None, :] if synapse is DenseHiddenSynapse else MEM.T
    syn = synapse(P, lagrangian, Ws=(jnp.asarray(W),))
    return hamax.HAM(
        {"x": hamax.NeuronLayer(Identity(), D)}, {"m": syn}, [(("x",), "m")]
    )


def _softmax_shares(x, beta):
    z = beta * MEM @ x
    p = np.exp(z - z.max())
    return p / p.sum()


def test_constructed_cases_land_in_each_outcome():
    ham = _ham(Softmax(1.0))
    states = np.stack(
        [
            MEM[3],  # one memory: overlap 16 against 0 for the others
            0.25 * (MEM[1] + MEM[2]),  # an even mix of two memories
            np.zeros(D),  # nothing: every memory equally weighted
        ]
    )
    out = outcomes(ham, {"x": jnp.asarray(states)})
    assert list(out.names) == ["fixed_point", "metastable", "diffuse"]
    for i, x in enumerate(states):
        p = _softmax_shares(x, 1.0)
        np.testing.assert_allclose(out.top_weight[i], p.max(), rtol=1e-12)
        np.testing.assert_allclose(
            out.effective_memories[i], 1 / np.sum(p**2), rtol=1e-12
        )
        np.testing.assert_allclose(out.energy[i], ham.energy({"x": jnp.asarray(x)}))
    assert int(out.nearest[0]) == 3 and np.isclose(out.similarity[0], 1.0)
    assert int(out.nearest[1]) in (1, 2)
    np.testing.assert_allclose(out.similarity[1], 1 / np.sqrt(2), rtol=1e-12)
    assert out.converged is None and out.num_steps is None


def test_relu_with_no_active_memory_is_diffuse_and_thresholds_move_labels():
    ham = _ham(ReLU())
    out = outcomes(ham, {"x": -jnp.asarray(MEM[0])})  # every overlap <= 0
    assert out.names.shape == () and str(out.names) == "diffuse"
    assert float(out.top_weight) == 0.0
    # 0.7 / 0.3 mix of two memories: metastable at dominance 0.9, fixed at 0.6.
    mix = {"x": jnp.asarray(0.7 * MEM[4] + 0.3 * MEM[5]) / 16}
    shares = np.maximum(MEM @ np.asarray(mix["x"]), 0)
    assert np.isclose(shares.max() / shares.sum(), 0.7)
    assert str(outcomes(ham, mix).names) == "metastable"
    assert str(outcomes(ham, mix, dominance=0.6).names) == "fixed_point"
    # A mix spread over all 8 memories is diffuse unless spread allows it.
    even = {"x": jnp.asarray(MEM.sum(0)) / 16}
    assert str(outcomes(ham, even).names) == "diffuse"
    assert str(outcomes(ham, even, spread=1.0).names) == "metastable"


@pytest.mark.parametrize("synapse", [DenseHiddenSynapse, EuclideanHiddenSynapse])
def test_from_a_batched_descent(synapse):
    ham = _ham(Softmax(0.5), synapse)
    cues = np.stack([MEM[i] for i in (0, 5, 7)])
    cues[:, :3] *= -1  # three flipped bits each

    def run(q):
        stop = hamax.Converged(atol=1e-8, max_steps=20)
        return hamax.descend(ham, {"x": q}, dt=1.0, stop=stop)

    sol = jax.vmap(run)(jnp.asarray(cues))
    out = outcomes(ham, sol)
    np.testing.assert_array_equal(out.nearest, [0, 5, 7])
    assert list(out.names) == ["fixed_point"] * 3
    assert bool(jnp.all(out.converged)) and out.num_steps.shape == (3,)
    np.testing.assert_array_equal(out.num_steps, sol.num_steps)
    np.testing.assert_allclose(out.similarity, 1.0, rtol=1e-6)
    # jit agrees with eager, and float32 states give float32 energies.
    jitted = eqx.filter_jit(outcomes)(ham, sol.states)
    np.testing.assert_allclose(jitted.energy, out.energy, rtol=1e-12)
    np.testing.assert_array_equal(jitted.label, out.label)
    h32 = hamax.HAM(
        {"x": hamax.NeuronLayer(Identity(), D)},
        {"m": jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), ham.synapses["m"])},
        [(("x",), "m")],
        dtype=jnp.float32,
    )
    o32 = outcomes(h32, {"x": jnp.asarray(cues, jnp.float32)})
    assert o32.energy.dtype == jnp.float32


def test_errors():
    ham = _ham()
    hop = zoo.make_classical_hopfield(MEM)
    x = {"x": jnp.asarray(MEM[0])}
    cases = [
        (lambda: outcomes(hop, {"x": jnp.asarray(MEM[0])}), ValueError,
         r"exactly one DenseHiddenSynapse or EuclideanHiddenSynapse .* found 0"),
        (lambda: outcomes(ham, x, synapse="nope"), ValueError,
         r"named 'nope' .* found 0"),
        (lambda: outcomes(ham, x, layer="y"), ValueError,
         r"layer='y', which synapse 'm' does not connect"),
        (lambda: outcomes(ham, x, dominance=0.0), ValueError,
         r"`dominance` to be a number in \(0, 1\]"),
        (lambda: outcomes(ham, x, spread=float("nan")), ValueError,
         r"`spread` to be a number in \(0, 1\]"),
        (lambda: outcomes(ham, {}), ValueError, r"without layer\(s\) 'x'"),
        (lambda: outcomes(ham, {"x": jnp.ones(3)}), ValueError,
         r"states\['x'\] of shape \(16,\) \(or a batch of them\), got \(3,\)"),
    ]  # fmt: skip
    for call, err, match in cases:
        with pytest.raises(err, match=match):
            call()


def test_recall_labels_reports_outcomes(getkey):
    ham = zoo.make_hn((16,), num_hidden=12, num_labels=4, key=getkey())
    key = getkey()
    images, E = hamax.memory.recall_labels(ham, [0, 2], beta_scale=1.0, key=key)
    images2, E2, out = hamax.memory.recall_labels(
        ham, [0, 2], beta_scale=1.0, report=True, key=key
    )
    np.testing.assert_array_equal(images, images2)
    np.testing.assert_array_equal(E, E2)
    assert out.label.shape == (2,) and set(out.names) <= set(
        ["fixed_point", "metastable", "diffuse"]
    )
    # The final energy is the descent's last one (at the lowered temperature).
    np.testing.assert_allclose(out.energy, E[:, -1], rtol=1e-10)
    np.testing.assert_array_equal(out.num_steps, [15, 15])
    assert bool(jnp.all(out.converged))
    hop = zoo.make_classical_hopfield(MEM)
    with pytest.raises(ValueError, match="no readable memories"):
        hamax.memory.recall_labels(hop, [0], image="x", label="x", report=True, key=key)
