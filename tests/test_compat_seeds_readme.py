"""The HAMUX v0.1 README's "How to Use" (seed 002_b3ac5004f7beeaf9.txt), read from
the seed at test time and run through `hamax.compat.v01`.

The seed's code blocks were scrambled by the page's text extraction (see
`seeds.unscramble`); each block is unscrambled and the test proves that
scrambling it again gives the seed's text back, character for character.
"""

import re

import numpy as np
import pytest

from .seeds import rescramble, run, seed_text, unscramble, user_mode


SEED = "002"


@pytest.fixture(scope="module")
def blocks():
    text = seed_text(SEED)
    how_to = text[text.index("## How to Use") : text.index("## Credits")]
    out = []
    for block in re.findall(r"```\n(.*?)\n```", how_to, re.S):
        code = unscramble(block)
        assert rescramble(code) == block
        out.append(
            code.replace("import hamux as hmx", "import hamax.compat.v01 as hmx")
        )
    return out


def test_readme_how_to_use(blocks):
    imports, build, asserts, fwd, forward, naive, smart = blocks
    assert "import hamax.compat.v01 as hmx" in imports
    ns: dict = {}
    for code in (imports, build, asserts, fwd):
        run(code, ns)
    _, out = run(forward, ns)
    # The README shows the printed shape under the listing.
    assert f"`{out.strip()}`" in seed_text(SEED)
    energies, probs = np.asarray(ns["energies"]), np.asarray(ns["probs"])
    assert energies.shape == (20, 3) and probs.shape == (3, 10)
    assert np.all(np.diff(energies, axis=0) <= 1e-4 * np.abs(energies[1:]))

    ham, states = ns["ham"], ns["states"]
    run(naive, ns)
    naive_grad = ns["fscore_naive"](states)
    # As printed, both README recipes subtract the step size (the score is unused).
    for a, s in zip(ns["next_states"], states):
        np.testing.assert_allclose(a, s - 0.01, rtol=1e-6)
    run(smart, ns)
    with user_mode():
        smart_grad = ns["fscore_smart"](states)
        dEdg = ham.dEdg(states)
    for a, b in zip(smart_grad, dEdg):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # Chain rule, independently: dE/dx = g'(x) dE/dg, and for the tanh image
    # layer g'(x) = 1 - tanh(x)^2.
    x0 = np.asarray(states[0], np.float64)
    np.testing.assert_allclose(
        naive_grad[0],
        (1 - np.tanh(x0) ** 2) * np.asarray(smart_grad[0]),
        rtol=1e-4,
        atol=1e-6,
    )
