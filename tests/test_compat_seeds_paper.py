"""The paper's Code 1, 2 and 3 (seed 000_7c8ebe0b85a880cc.txt, appendix A), read
from the seed at test time and run through `hamax.compat.v01`, checked against
float64 re-implementations of the energy and the dynamics."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .seeds import fenced_before, run, seed_text, user_mode


PAPER = "000"
# The paper's listings assume `from hamux import *`; this is that import line.
IMPORT = "from hamax.compat.v01 import *\n"


def code1() -> str:
    return fenced_before(seed_text(PAPER), "Code 1: Shallow HN with ReLU, MNIST")


def code2() -> str:
    code = fenced_before(seed_text(PAPER), "Code 2: Convolutional HAM with MaxPooling")
    # The PDF's text has `).` where the list needs `),` after the second
    # ConvSynapseWithPool (as printed it would call a method of the synapse).
    assert code.count("    ).\n") == 1
    fixed = code.replace("    ).\n", "    ),\n")
    assert sum(a != b for a, b in zip(fixed, code, strict=True)) == 1
    return fixed


def code3() -> str:
    code = fenced_before(seed_text(PAPER), "Code 3: An example of the forward function")
    # The PDF lost the docstring's closing quotes; they close it after its
    # second line, as in HAMUX's registry.
    anchor = "labels are `layer[-1]`"
    assert code.count('"""') == 1 and code.count(anchor) == 1
    return code.replace(anchor, anchor + '"""')


def _np(a):
    return np.asarray(a, np.float64)


def _lse(v):
    m = v.max(-1, keepdims=True)
    return (m + np.log(np.exp(v - m).sum(-1, keepdims=True)))[..., 0]


def _softmax(v):
    e = np.exp(v - v.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _tanh_energy(x):
    x = x.reshape(len(x), -1)
    logcosh = np.abs(x) + np.log1p(np.exp(-2 * np.abs(x))) - np.log(2)
    return (x * np.tanh(x)).sum(-1) - logcosh.sum(-1)


def _relu_memory_energy(syn, gs):
    # Dense associative memory with a ReLU hidden Lagrangian:
    # E = -1/2 sum_mu relu(sum_i M_i g_i)^2.
    h = sum(
        np.einsum("kmd,bd->bkm", _np(M), g.reshape(len(g), -1))
        for M, g in zip(syn.memories(), gs)
    )
    return -0.5 * (np.maximum(h, 0) ** 2).sum((-1, -2)), h


def test_code1_hn_energy_matches_float64_reference():
    with user_mode():
        ns, _ = run(IMPORT + code1())
        ham = ns["ham"]
        assert not ham.initialized and ham.n_layers == 2 and ham.n_connections == 1
        xs, ham = ham.init_states_and_params(
            jr.PRNGKey(0), bs=3, state_key=jr.PRNGKey(1)
        )
        ximg, xlab = _np(xs[0]), _np(xs[1])
        (syn,) = ham.synapses
        E_syn, _ = _relu_memory_energy(syn, [np.tanh(ximg), _softmax(xlab)])
        E_lab = (xlab * _softmax(xlab)).sum(-1) - _lse(xlab)
        expected = _tanh_energy(ximg) + E_lab + E_syn
        np.testing.assert_allclose(ham.venergy(xs), expected, rtol=2e-5, atol=1e-4)


def test_code3_forward_on_code1_matches_float64_loop():
    with user_mode():
        ns, _ = run(IMPORT + code1())
        _, ham = ns["ham"].init_states_and_params(jr.PRNGKey(2), bs=2)
        fwd, _ = run(code3())
        x = jr.normal(jr.PRNGKey(3), (2, 28, 28, 1), jnp.float32)
        depth, dt = 5, 0.4
        probs = fwd["simple_fwd"](ham, x, depth, dt)
        # The same descent in float64: the image is clamped (mask 0), the label
        # moves along -(x + dE_syn/dg).
        (syn,) = ham.synapses
        Mimg, Mlab = (_np(M)[0] for M in syn.memories())
        gimg = np.tanh(_np(x).reshape(2, -1))
        xl = np.zeros((2, 10))
        for _ in range(depth):
            h = gimg @ Mimg.T + _softmax(xl) @ Mlab.T
            xl = xl - dt * (xl - np.maximum(h, 0) @ Mlab)
        np.testing.assert_allclose(probs, _softmax(xl), rtol=1e-4, atol=1e-6)


def _conv_pool_energy(syn, g1, g2, padding):
    # -<g2, maxpool(conv(g1, W))> with lax's own convolution in float64.
    with jax.enable_x64(True):
        return _conv_pool_energy64(syn, g1, g2, padding)


def _conv_pool_energy64(syn, g1, g2, padding):
    y = jax.lax.conv_general_dilated(
        jnp.asarray(g1, jnp.float64),
        jnp.asarray(syn.W, jnp.float64),
        (2, 2) if padding == 2 else (1, 1),
        [(padding, padding)] * 2,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    pooled = jax.lax.reduce_window(
        y, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID"
    )
    return -np.einsum("bhwc,bhwc->b", g2, _np(pooled))


def test_code2_conv_ham_energy_matches_float64_reference():
    with user_mode():
        ns, _ = run(IMPORT + code2())
        ham = ns["HAM"](ns["layers"], ns["synapses"], ns["connections"])
        xs, ham = ham.init_states_and_params(
            jr.PRNGKey(0), bs=2, state_key=jr.PRNGKey(1)
        )
        x = [_np(v) for v in xs]
        g = [np.tanh(v) for v in x[:3]] + [_softmax(x[3])]
        s0, s1, s2 = ham.synapses
        E_mem, _ = _relu_memory_energy(s2, [g[2], g[3]])
        expected = (
            sum(_tanh_energy(v) for v in x[:3])
            + (x[3] * g[3]).sum(-1)
            - _lse(x[3])
            + _conv_pool_energy(s0, g[0], g[1], padding=2)
            + _conv_pool_energy(s1, g[1], g[2], padding=0)
            + E_mem
        )
        np.testing.assert_allclose(ham.venergy(xs), expected, rtol=2e-5, atol=1e-3)
        # Code 3 runs on it too, and its descent lowers the energy.
        fwd, _ = run(code3())
        probs = fwd["simple_fwd"](ham, xs[0], 3, 0.1)
        assert probs.shape == (2, 10)
        np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
