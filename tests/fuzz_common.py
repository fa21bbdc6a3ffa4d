"""Shared pieces of the in-process fuzz suite (tests/test_fuzz.py collects the
properties from tests/fuzz_*.py).

Profiles: `hamax-fuzz` (the regular run) and `hamax-fuzz-long` (ten times the
examples; `HAMAX_FUZZ=long`, which `make fuzz` sets). Each property counts the
cases it ran and asserts it ran its share, so the total is checked on any
pytest-xdist split. `HAMAX_FUZZ_REPORT=FILE` appends `target count seconds` lines.
"""

import os
import time

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import jaxtyping
from hypothesis import HealthCheck, settings

import hamax
import hamax.training
from hamax import lagrangians as L, synapses as S


settings.register_profile(
    "hamax-fuzz",
    max_examples=100,
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "hamax-fuzz-long", settings.get_profile("hamax-fuzz"), max_examples=1000
)
LONG = os.environ.get("HAMAX_FUZZ") == "long"
PROFILE = settings.get_profile("hamax-fuzz-long" if LONG else "hamax-fuzz")
SCALE = 10 if LONG else 1

# Exceptions a user may see: each must name the problem. TypeCheckError comes
# only from the test-time jaxtyping hook and is allowed only for wrong Python
# types (`wrong_type=True`).
CLEAR = (
    ValueError,  # includes CheckpointError, SpecError, ChecksumError
    FileNotFoundError,
    hamax.training.RunLockedError,
    eqx.EquinoxRuntimeError,
)


def examples(n: int):
    """The profile with `n` examples (times ten under HAMAX_FUZZ=long)."""
    return settings(PROFILE, max_examples=n * SCALE)


def check_clear(e: BaseException, *hints: str, wrong_type: bool = False) -> None:
    """`e` is an error a user can act on: a known type, and (when given) a
    message naming one of `hints`."""
    if wrong_type and isinstance(e, jaxtyping.TypeCheckError):
        return
    assert isinstance(e, CLEAR), f"raw {type(e).__name__}: {e}"
    msg = str(e)
    assert len(msg) > 20, f"terse message: {msg!r}"
    if hints:
        assert any(h in msg for h in hints), f"message names none of {hints}: {msg}"


class Counter:
    """Counts the cases a property ran; `done` asserts the share was reached."""

    def __init__(self, target: str):
        self.target, self.n, self.t0 = target, 0, time.perf_counter()

    def tick(self) -> None:
        self.n += 1

    def done(self, least: int) -> None:
        seconds = time.perf_counter() - self.t0
        report = os.environ.get("HAMAX_FUZZ_REPORT")
        if report:
            with open(report, "a") as f:
                f.write(f"{self.target} {self.n} {seconds:.1f}\n")
        assert self.n >= least * SCALE, f"{self.target}: ran {self.n} cases"


def small_ham(dtype=jnp.float32):
    """image (4, Tanh) -> hidden (3, ReLU) -> label (2, Softmax): tiny, so the
    jitted loop compiles once per static configuration."""
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), 4),
        "hidden": hamax.NeuronLayer(L.ReLU(), 3),
        "label": hamax.NeuronLayer(L.Softmax(), 2),
    }
    synapses = {"s1": S.DenseSynapse(), "s2": S.DenseSynapse()}
    connections = [(("image", "hidden"), "s1"), (("hidden", "label"), "s2")]
    return hamax.HAM(neurons, synapses, connections, key=jr.key(0), dtype=dtype)
