"""Guarding the implicit adjoint: check its linear solve, fall back, report.

The backward pass of [`hamax.Implicit`][] checks its solve (finite, relative
residual within tolerance). Under [`hamax.training.make_step`][] (and so
`hamax.training.train`) a failure is counted through a *probe*: a zero-valued
array that `make_step` differentiates beside the model. `descend` attaches the
probe of the enclosing `count_implicit_failures` block to the adjoint (outside
its jit, so the probe is an ordinary traced argument), the backward pass writes
its counts as the probe's cotangent, and reverse mode sums them over the batch.
"""

import contextlib
import contextvars
from typing import Any

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from ._loop import _scan, all_finite


_PROBE: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "hamax_implicit_probe", default=None
)

# The probe's entries: solves that failed with no fallback, solves that fell back.
UNHANDLED, FELL_BACK = 0, 1


def new_probe():
    """A zero probe for [`count_implicit_failures`][]; its cotangent holds
    `(failed solves without a fallback, solves that fell back)`."""
    return jnp.zeros((2,), jnp.float32)


class Counter:
    """A probe and whether an implicit adjoint was traced with it."""

    def __init__(self, probe):
        self.probe = probe
        self.used = False


@contextlib.contextmanager
def count_implicit_failures(probe):
    """While tracing inside this block, implicit adjoints report to `probe`;
    yields a `Counter` whose `used` says whether one did."""
    counter = Counter(probe)
    token = _PROBE.set(counter)
    try:
        yield counter
    finally:
        _PROBE.reset(token)


def current_probe():
    """The probe of the enclosing `count_implicit_failures` block (marking it
    used), or None."""
    counter = _PROBE.get()
    if counter is None:
        return None
    counter.used = True
    return counter.probe


def solve_ok(matvec, b, lam, rtol):
    """Whether `lam` solves `matvec(lam) = b`: finite, and the residual's norm at
    most `rtol` times the norm of `b` (the check costs one more matvec)."""
    r = matvec(lam) - b
    rnorm = jnp.sqrt(jnp.sum(r * r))
    bnorm = jnp.sqrt(jnp.sum(b * b))
    return all_finite(lam) & (rnorm <= rtol * bnorm)


def default_rtol(dtype) -> float:
    """The square root of the dtype's machine epsilon."""
    return float(np.sqrt(np.finfo(dtype).eps))


def rerun(system, free0, dt, n, max_steps: int, remat: int):
    """The descent's first `n` steps again, as a scan of `max_steps` steps that
    stop moving after step `n`, so reverse mode can differentiate it;
    `remat` as in `LoopConfig` (0: store every step)."""

    def step(x):
        _, grad = system.energy_and_grad(x, need_energy=False)
        return system.update(x, grad, dt)

    if remat == 1:
        step = jax.checkpoint(step)

    def body(c):
        x, k = c
        new = step(x)
        x = jtu.tree_map(lambda a, b: jnp.where(k < n, b, a), x, new)
        return x, k + 1

    x, _ = _scan(body, (dict(free0), jnp.array(0)), max_steps, remat)
    return x
