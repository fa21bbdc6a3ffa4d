"""hamux 0.2's documentation: the building-blocks page (seed
003_e33c94191a236dd5.txt) and the Lagrangians page (seed 001_05471aef69d8329d.txt),
read at test time and run through `hamax.compat.v02`.

The seed's text of the building-blocks page lost the newlines inside code cells
(`D1, D2 =10, 20W =0.02* ...`). Each listing is repaired by putting a newline
before named anchors; the test proves the repair changed whitespace only.
"""

import inspect
import re

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax.compat.v02 as v02

from .seeds import between, insert_newlines, line_after, run, seed_text, squeeze


BLOCKS, LAGRANGIANS = "003", "001"
IMPORT = "from hamax.compat.v02 import *\n"  # the notebook's `from hamux.core import *`


def _namespace():
    return dict(jax=jax, jnp=jnp, jr=jr)


def _repaired(start, end, anchors):
    code = between(seed_text(BLOCKS), start, end)
    fixed = insert_newlines(code, anchors).replace(
        "assertisinstance", "assert isinstance"
    )
    assert squeeze(fixed) == squeeze(code)  # whitespace only
    return fixed


def test_lagrangian_imports():
    code = _repaired(
        "from hamux.lagrangians import", "\nThe NeuronLayer.init", ["from pprint"]
    )
    ns, _ = run(code.replace("hamux.lagrangians", "hamax.compat.v02"), _namespace())
    x = jnp.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(ns["lagr_relu"](x), 0.5 * (0.25 + 4.0), rtol=1e-6)
    assert ns["lagr_identity"] is v02.lagr_identity


def test_linear_synapse_with_bias_listing():
    anchors = [
        "W =0.02",
        "b = jnp.arange",
        "linear_syn_with_bias = ",
        "# Gradients",
        "xhat1 = jr",
        "xhat2 = jr",
        "expected_forward =",
        "expected_backward =",
        "forward_signal =",
        "backward_signal =",
        "assert jnp.allclose(forward",
        "assert jnp.allclose(backward",
        "# Could",
        "bias_syn = ",
        "assert jnp.allclose(-jax",
    ]
    code = _repaired("D1, D2 =10, 20", "\nFinally, we can consider", anchors)
    ns, _ = run(IMPORT + code, _namespace())  # its asserts are the check
    # and independently, in float64: E = -x1 W x2 - b.x2
    W, b = np.asarray(ns["W"], np.float64), np.arange(1.0, 21.0)
    x1, x2 = (np.asarray(ns[k], np.float64) for k in ("xhat1", "xhat2"))
    np.testing.assert_allclose(
        ns["linear_syn_with_bias"](ns["xhat1"], ns["xhat2"]),
        -(x1 @ W @ x2) - b @ x2,
        rtol=1e-5,
    )


def test_conv_synapse_listing_prints_hamux_energy():
    anchors = [
        "H, W, C_in, C_out =",
        "filter_h, filter_w =",
        "# Create a ConvSynapse",
        "conv_syn = ",
        "# Create test activations",
        "xhat1 = jr",
        "xhat2 = jr",
        "# Test energy computation",
        "energy = conv_syn",
        'print(f"Energy',
        "assertisinstance",
        "# The negative",
        "conv_result = ",
        "grad_xhat2 = ",
        "assert jnp.allclose(-grad_xhat2",
        "# Test that",
        "conv_transpose_result = ",
        "grad_xhat1 = ",
        "assert jnp.allclose(conv_transpose",
    ]
    code = _repaired("key = jr.key(42)", "\nEnergy: ", anchors)
    ns, out = run(IMPORT + code, _namespace())
    # The seed printed hamux 0.2.2's energy for the same keys.
    (printed,) = line_after(seed_text(BLOCKS), 'print(f"Energy: {energy}")', 1)
    hamux_energy = float(printed.removeprefix("Energy: "))
    ours = float(out.strip().removeprefix("Energy: "))
    # (same keys, same draws; float32 sums in another order: about 1e-6 apart)
    np.testing.assert_allclose(ours, hamux_energy, rtol=1e-5)
    # A float64 direct correlation (SAME padding, OIHW kernel).
    W = np.asarray(ns["conv_syn"].W, np.float64)
    x1 = np.pad(np.asarray(ns["xhat1"], np.float64), ((1, 1), (1, 1), (0, 0)))
    x2 = np.asarray(ns["xhat2"], np.float64)
    y = np.stack(
        [
            np.stack(
                [
                    np.einsum("hwc,ochw->o", x1[i : i + 3, j : j + 3], W)
                    for j in range(8)
                ]
            )
            for i in range(8)
        ]
    )
    np.testing.assert_allclose(ours, -(y * x2).sum(), rtol=1e-5)


# ------------------------------------------------------------------ Lagrangians
_SIGNATURE = re.compile(r"^ (lagr_\w+) \((.*?)\)$", re.M | re.S)


def _documented_signatures():
    text = seed_text(LAGRANGIANS)
    sigs = {}
    for name, params in _SIGNATURE.findall(text):
        params = re.sub(r"\s+", " ", params)
        sigs[name] = [p.strip() for p in re.split(r",(?![^\[]*\])", params)]
    return sigs


def test_lagrangians_page_lists_our_functions_with_its_defaults():
    sigs = _documented_signatures()
    assert len(sigs) == 10, sorted(sigs)
    for name, params in sigs.items():
        ours = inspect.signature(getattr(v02, name)).parameters
        for p in params:
            pname, _, default = p.partition("=")
            pname = pname.split(":")[0].strip()
            assert pname in ours, (name, pname)
            if default:
                assert ours[pname].default == float(default), (name, pname)


# The activations the page gives for each Lagrangian, written out here.
ACTIVATIONS = {
    "lagr_identity": (dict(), lambda x: x),
    "lagr_repu": (dict(n=4.0), lambda x: np.maximum(x, 0) ** 3),
    "lagr_relu": (dict(), lambda x: np.maximum(x, 0)),
    "lagr_exp": (dict(beta=0.7), lambda x: np.exp(0.7 * x)),
    "lagr_tanh": (dict(beta=0.7), lambda x: np.tanh(0.7 * x)),
    "lagr_softmax": (
        dict(beta=0.7),
        lambda x: np.exp(0.7 * x) / np.exp(0.7 * x).sum(),
    ),
    "lagr_layernorm": (
        dict(gamma=1.5, delta=0.2),
        lambda x: 1.5 * (x - x.mean()) / np.sqrt(x.var() + 1e-5) + 0.2,
    ),
    "lagr_spherical_norm": (
        dict(gamma=1.5, delta=0.2),
        lambda x: 1.5 * x / np.sqrt((x**2).sum() + 1e-5) + 0.2,
    ),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_lagrangian_activations_match_the_page(name):
    kwargs, activation = ACTIVATIONS[name]
    x = np.linspace(-2.0, 1.5, 7)
    g = jax.grad(lambda v: getattr(v02, name)(v, **kwargs))(jnp.asarray(x))
    np.testing.assert_allclose(g, activation(x), rtol=1e-9, atol=1e-12)
