"""Health of a descent: monotonicity of the energy and the final status."""

import math
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jax import lax

from ._solution import RESULTS
from ._stop import Steps


class Monitor(eqx.Module):
    r"""What a descent checks while it runs.

    By default a descent reports an energy rise beyond round-off as
    `RESULTS.unstable`, without raising: a HAM with convex Lagrangians and a
    small enough `dt` never raises its energy, so a rise means the step size is
    too large (or a Lagrangian is not convex). Where the energy is computed at
    every step anyway (`Save(energy=True)`, an energy tolerance, `monotone=True`)
    every step is checked; otherwise the last two steps are (three energy
    evaluations after the loop instead of one per step: an unstable descent
    climbs or oscillates at its end, and an oscillation between two states rises
    in one of its last two steps). These evaluations feed only the report
    (`solution.result`, `failed_step`, `energy_increase`), never what raises,
    and carry no gradient: under `jax.jit` a caller that does not read the
    report (a loop that keeps only the states) does not compute them.

    **Arguments:**

    - `monotone`: raise on the first step where the energy rose (as
      `RESULTS.energy_increased`, under `throw=True`) instead of reporting it.
      A rise counts when it exceeds the round-off of the energy: `rtol * (1 + S)`,
      where $S$ is the sum of the absolute values of the energy's terms (the
      magnitude the float sum is accurate to).
    - `rtol`: the relative tolerance; `None` (default) picks `64 * eps` of the
      energy's dtype, about `8e-6` in float32 and `1.4e-14` in float64.
    - `track`: `False` skips the check of the last two steps (and its three
      energy evaluations) where the energy is not computed at every step anyway.
    """

    monotone: bool = eqx.field(static=True, default=False)
    rtol: float | None = eqx.field(static=True, default=None)
    track: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        if self.rtol is not None and not (
            isinstance(self.rtol, int | float)
            and math.isfinite(self.rtol)
            and self.rtol >= 0
        ):
            raise ValueError(
                f"Monitor expected `rtol` to be a finite number >= 0 or None, got "
                f"{self.rtol!r}."
            )
        for name in ("monotone", "track"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"Monitor expected `{name}` to be True or False, got "
                    f"{getattr(self, name)!r}."
                )
        if self.monotone and not self.track:
            raise ValueError(
                "Monitor got monotone=True with track=False: checking that the "
                "energy never rises needs it tracked; drop track=False."
            )


def rise_tolerance(monitor: Monitor, E, scale):
    """The largest energy rise that float round-off explains."""
    rtol = monitor.rtol
    if rtol is None:
        rtol = 64 * float(jnp.finfo(jnp.result_type(E)).eps)
    return rtol * (1 + scale)


def record_rise(state, monitor: Monitor, E_before, E_after, scale, i):
    """`state` (a loop carry) with a rise beyond round-off from `E_before` to
    `E_after` at step `i` recorded (nothing at step 0, for NaN, or after a
    failure), and the rise itself (0 at step 0). The one rise check: the loop
    runs it at each step, the end check after the loop."""
    rise = jnp.where(i > 0, E_after - E_before, 0.0)
    tol = rise_tolerance(monitor, E_after, lax.stop_gradient(scale))
    bad = (state.first_increase < 0) & (state.failed_step < 0) & (rise > tol)
    state = state._replace(
        first_increase=jnp.where(bad, i, state.first_increase),
        increase=jnp.maximum(state.increase, rise),
    )
    return state, rise


def status(out, cfg, *, report: bool = True) -> Any:
    """The [`hamax.RESULTS`][] of a finished loop carry `out`: a failure first,
    then a rise under `monotone`, then the stopping rule, then a reported rise.

    `report=False` leaves out the reported rise (`RESULTS.unstable` reads as
    success): what `throw=True` raises on. It reads no energy unless the loop
    computed one at every step, so a caller that ignores `solution.result` does
    not keep the end check's energy evaluations alive."""
    R: Any = RESULTS  # mypy reads eqx.Enumeration members as str
    rose = out.first_increase >= 0
    stopped = jnp.asarray(isinstance(cfg.stop, Steps)) | out.done
    ok = R.where(rose, R.unstable, R.successful) if report else R.successful
    return R.where(
        out.failed_step >= 0,
        R.nonfinite,
        R.where(
            jnp.asarray(cfg.monitor.monotone) & rose,
            R.energy_increased,
            R.where(stopped, ok, R.max_steps_reached),
        ),
    )
