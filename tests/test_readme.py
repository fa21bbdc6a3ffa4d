import pathlib
import re

import numpy as np


def test_readme_example_runs():
    text = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
    code = re.findall(r"```python\n(.*?)```", text, re.S)[0]
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    probs, sol = scope["probs"], scope["sol"]
    assert probs.shape == (10,)
    np.testing.assert_allclose(float(probs.sum()), 1.0, rtol=1e-6)
    assert np.all(
        np.diff(np.asarray(sol.energies)) <= 1e-6 * np.abs(np.asarray(sol.energies[1:]))
    )
