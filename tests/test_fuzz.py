"""The fuzz suite (issue #15 item 5): hypothesis properties over descend,
ClampedSystem and the strategy objects (tests/fuzz_dynamics.py), training
(tests/fuzz_training.py), hostile run directories and specs (tests/fuzz_io.py)
and the CLI (tests/fuzz_cli.py), in process with the test-time type hook; and tests/fuzz_public_api.py run as a user sees hamax
(no hook, slow). `make fuzz` runs ten times the examples (HAMAX_FUZZ=long)."""

import os
import pathlib
import subprocess
import sys

import pytest

from .fuzz_cli import test_fuzz_cli as test_fuzz_cli
from .fuzz_dynamics import (
    test_fuzz_descend as test_fuzz_descend,
    test_fuzz_nonfinite_x0_raises as test_fuzz_nonfinite_x0_raises,
    test_fuzz_strategy_objects as test_fuzz_strategy_objects,
    test_numpy_int_steps_pass_the_type_hook as test_numpy_int_steps_pass_the_type_hook,
)
from .fuzz_io import (
    test_fuzz_from_spec as test_fuzz_from_spec,
    test_fuzz_load_run as test_fuzz_load_run,
)
from .fuzz_training import test_fuzz_train as test_fuzz_train


@pytest.mark.slow
def test_fuzz_public_api_without_type_hook(tmp_path):
    """Runs tests/fuzz_public_api.py as a user sees hamax: no jaxtyping hook."""
    count = tmp_path / "count"
    env = {
        **os.environ,
        "HAMAX_FUZZ_COUNT": str(count),
        "HAMAX_FUZZ_EXAMPLES": "1200"
        if os.environ.get("HAMAX_FUZZ") == "long"
        else "120",
    }
    here = pathlib.Path(__file__).parent
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(here / "fuzz_public_api.py"),
            "-q",
            "-o",
            "addopts=",
            "-p",
            "no:cacheprovider",
            "-x",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        cwd=here.parent,
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    kinds = count.read_text().split()
    print(
        f"fuzz cases tried: {len(kinds)} ({', '.join(f'{k}: {kinds.count(k)}' for k in sorted(set(kinds)))})"
    )
    assert len(kinds) >= 300
