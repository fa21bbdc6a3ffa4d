import os
import pathlib
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_fuzz_public_api_without_type_hook(tmp_path):
    """Runs tests/fuzz_public_api.py as a user sees hamax: no jaxtyping hook."""
    count = tmp_path / "count"
    env = {**os.environ, "HAMAX_FUZZ_COUNT": str(count), "HAMAX_FUZZ_EXAMPLES": "120"}
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
