"""Health of a descent: monotonicity of the energy and the final status."""

import math
from typing import Any

import equinox as eqx
import jax.numpy as jnp

from .._solution import RESULTS
from ._stop import Steps


class Monitor(eqx.Module):
    r"""What a descent checks while it runs.

    **Arguments:**

    - `monotone`: report the first step where the energy rose (as
      `RESULTS.energy_increased`). A rise counts when it exceeds the round-off of
      the energy: `rtol * (1 + S)`, where $S$ is the sum of the absolute values of
      the energy's terms (the magnitude the float sum is accurate to).
    - `rtol`: the relative tolerance; `None` (default) picks `64 * eps` of the
      energy's dtype, about `8e-6` in float32 and `1.4e-14` in float64.
    """

    monotone: bool = eqx.field(static=True, default=False)
    rtol: float | None = eqx.field(static=True, default=None)

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


def rise_tolerance(monitor: Monitor, E, scale):
    """The largest energy rise that float round-off explains."""
    rtol = monitor.rtol
    if rtol is None:
        rtol = 64 * float(jnp.finfo(jnp.result_type(E)).eps)
    return rtol * (1 + scale)


def status(out: dict, cfg) -> Any:
    """The [`hamax.RESULTS`][] of a finished loop carry `out`."""
    R: Any = RESULTS  # mypy reads eqx.Enumeration members as str
    return R.where(
        out["failed_step"] >= 0,
        R.nonfinite,
        R.where(
            jnp.asarray(cfg.monitor.monotone) & (out["first_increase"] >= 0),
            R.energy_increased,
            R.where(
                jnp.asarray(isinstance(cfg.stop, Steps)) | out["done"],
                R.successful,
                R.max_steps_reached,
            ),
        ),
    )
