import abc
import math
import operator
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool


def as_steps(n, owner: str, arg: str = "steps") -> int:
    """`n` as a Python int >= 0, accepting any integer type (numpy, 0-d arrays)."""
    if isinstance(n, bool):
        n = None  # bools are ints to Python, never a number of steps
    try:
        value = operator.index(n)
    except TypeError:
        raise ValueError(
            f"{owner} expected `{arg}` to be an integer >= 0, got {n!r} of type "
            f"{type(n).__name__}."
        ) from None
    if value < 0:
        raise ValueError(
            f"{owner} expected `{arg}` to be an integer >= 0, got {value}."
        )
    return value


class AbstractStop(eqx.Module):
    """When a descent stops. Subclasses are [`hamax.Steps`][] and
    [`hamax.Converged`][].

    `max_steps` bounds the loop (it sizes any saved trajectory); `done` decides,
    after each step, whether the dynamics may stop early.
    """

    max_steps: eqx.AbstractVar[int]

    @abc.abstractmethod
    def done(
        self, update: Array, scale: Array, energy_change: Array
    ) -> Bool[Array, ""]:
        """Whether to stop after a step whose largest state change was `update`,
        with largest new state magnitude `scale` and energy change `energy_change`.
        """

    @property
    def needs_energy(self) -> bool:
        """Whether `done` reads the energy change (so the loop must compute it)."""
        return False


class Steps(AbstractStop):
    """Run exactly `n` steps (a `lax.scan`, differentiable in reverse mode)."""

    n: int = eqx.field(static=True)

    def __init__(self, n: Any):  # any integer type: int, np.int64, a 0-d array
        self.n = as_steps(n, "Steps", "n")

    @property  # type: ignore[misc]
    def max_steps(self) -> int:
        return self.n

    def done(self, update, scale, energy_change):
        return jnp.array(False)


class Converged(AbstractStop):
    r"""Stop when the dynamics have settled, or after `max_steps`.

    Converged when the largest state update of a step is at most
    `atol + rtol * max|x|` and, if `energy_atol` is given, the energy changed by at
    most `energy_atol` in the last step.

    **Arguments:**

    - `atol`, `rtol`: tolerances on the update norm (max-abs over free layers).
    - `energy_atol`: optional tolerance on the energy change.
    - `max_steps`: the most steps to take; reaching it without converging gives
      `RESULTS.max_steps_reached`.
    """

    atol: float = eqx.field(static=True, default=1e-5)
    rtol: float = eqx.field(static=True, default=0.0)
    energy_atol: float | None = eqx.field(static=True, default=None)
    max_steps: int = eqx.field(static=True, default=1000)

    def __check_init__(self):
        if isinstance(self.max_steps, bool) or not (
            isinstance(self.max_steps, int) and self.max_steps > 0
        ):
            raise ValueError(
                f"Converged expected `max_steps` to be a positive int, got "
                f"{self.max_steps!r}."
            )
        for name in ("atol", "rtol", "energy_atol"):
            v = getattr(self, name)
            if v is None and name == "energy_atol":
                continue
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ValueError(
                    f"Converged expected `{name}` to be a finite number >= 0, got "
                    f"{v!r}."
                )

    @property
    def needs_energy(self) -> bool:
        return self.energy_atol is not None

    def done(self, update, scale, energy_change):
        done = update <= self.atol + self.rtol * scale
        if self.energy_atol is not None:
            done = done & (energy_change <= self.energy_atol)
        return done
