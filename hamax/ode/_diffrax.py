from typing import Any

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import States
from .._ham import HAM
from ..dynamics._args import check_dtypes, check_number, nonfinite_x0_messages
from ..dynamics._descend import normalize_clamp, plain_errors
from ..dynamics._loop import all_finite
from ..dynamics._solution import RESULTS, Solution


def solve_ode(
    ham: HAM,
    x0: States,
    *,
    clamp: Any = None,
    t1: float = 100.0,
    solver: dfx.AbstractAdaptiveSolver | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    dt0: float = 0.1,
    steady_state: bool = True,
    steady_rtol: float = 1e-5,
    steady_atol: float = 1e-5,
    max_steps: int = 16384,
    throw: bool = True,
) -> Solution:
    r"""Integrate the continuous dynamics $\tau\,dx/dt = -\partial E/\partial g$ with
    an adaptive diffrax solver, stopping at a steady state (or at `t1`).

    The alternative to fixed-step Euler [`hamax.descend`][] when the answer should
    not depend on a step size. Clamping is structural, exactly as in `descend`.

    **Arguments:**

    - `ham`, `x0`, `clamp`: as for [`hamax.descend`][].
    - `t1`: the latest time to integrate to.
    - `solver`: any adaptive diffrax solver (default `diffrax.Tsit5()`; e.g.
      `diffrax.Heun()` for a cheap second-order one).
    - `rtol`, `atol`: tolerances of the PID step-size controller.
    - `dt0`: the first step size.
    - `steady_state`: stop when the vector field is small
      (`steady_rtol`, `steady_atol`, diffrax's `steady_state_event`).
    - `max_steps`: the most solver steps.
    - `throw`: raise unless a steady state was reached (or `t1`, without
      `steady_state`), or when a given state (free or clamped) is not finite; the
      error is one plain line. With `throw=False` a non-finite initial state,
      final state or energy is reported as `RESULTS.nonfinite`, never as success.

    **Returns:** a [`hamax.Solution`][]; `num_steps` counts accepted solver steps
    and `energy` is the final energy.
    """
    ham.check_states(x0, "solve_ode")
    whole, masks = normalize_clamp(ham, clamp, "solve_ode")
    if len(whole) == len(ham.neurons):
        raise ValueError(
            "solve_ode got every layer clamped, so nothing can move; leave at least "
            "one layer out of `clamp`."
        )
    check_dtypes(x0, "solve_ode")
    check_number("solve_ode", "t1", t1)
    check_number("solve_ode", "dt0", dt0)
    for name, tol in (
        ("rtol", rtol),
        ("atol", atol),
        ("steady_rtol", steady_rtol),
        ("steady_atol", steady_atol),
    ):
        check_number("solve_ode", name, tol, positive=False)
    if rtol == 0 and atol == 0:
        raise ValueError(
            "solve_ode expected `rtol` or `atol` to be > 0 (both are 0, so no step "
            "would ever be accepted)."
        )
    if isinstance(max_steps, bool) or not (
        isinstance(max_steps, int) and max_steps > 0
    ):
        raise ValueError(
            f"solve_ode expected `max_steps` to be a positive int, got "
            f"max_steps={max_steps!r}."
        )
    solver = dfx.Tsit5() if solver is None else solver
    cfg = (
        whole,
        t1,
        solver,
        rtol,
        atol,
        dt0,
        steady_state,
        steady_rtol,
        steady_atol,
        max_steps,
        throw,
    )
    with plain_errors():
        return _solve(ham, dict(x0), masks, cfg)


@eqx.filter_jit
def _solve(ham: HAM, x0: States, masks, cfg) -> Solution:
    whole, t1, solver, rtol, atol, dt0, steady, srtol, satol, max_steps, throw = cfg
    # Every given value is checked, the clamped ones too: a NaN there would
    # otherwise give a NaN energy with a "successful" result.
    bad_x0 = jnp.stack([~all_finite(x0[k]) for k in ham.neurons])
    system = ham.clamp({k: x0[k] for k in (*whole, *masks)}, masks)
    free = system.free_names

    def field(t, x, args):
        del t, args
        grad = system.grad(x)
        out = {k: -grad[k] / ham.neurons[k].tau for k in free}
        return {
            k: jnp.where(masks[k], 0.0, v) if k in masks else v for k, v in out.items()
        }

    event = dfx.Event(dfx.steady_state_event(srtol, satol)) if steady else None
    sol = dfx.diffeqsolve(
        dfx.ODETerm(field),
        solver,
        t0=0.0,
        t1=t1,
        dt0=dt0,
        y0={k: x0[k] for k in free},
        stepsize_controller=dfx.PIDController(rtol=rtol, atol=atol),
        event=event,
        max_steps=max_steps,
        throw=False,
    )
    x = jax.tree_util.tree_map(lambda a: a[-1], sol.ys)
    states = system.states(x)
    energy = system.energy(x)
    finite = jnp.all(jnp.stack([all_finite(v) for v in states.values()]))
    finite = finite & jnp.isfinite(energy) & ~jnp.any(bad_x0)
    # diffrax reports a terminating event (the steady state) as `event_occurred`.
    if steady:
        ok = sol.result == dfx.RESULTS.event_occurred
    else:
        ok = sol.result == dfx.RESULTS.successful
    R: Any = RESULTS
    result = R.where(
        ~finite, R.nonfinite, R.where(ok, R.successful, R.max_steps_reached)
    )
    out = Solution(
        states=states,
        num_steps=sol.stats["num_accepted_steps"],
        result=result,
        energy=energy,
        energies=None,
        energy_components=None,
        trajectory=None,
        failed_step=jnp.array(-1),
        failed_layer=jnp.array(-1),
        energy_increase=jnp.zeros((), sol.ts.dtype)
        if sol.ts is not None
        else jnp.zeros(()),
        failed_layers_order=free,
    )
    if throw:
        # One runtime check: a non-finite x0 first (naming the layer), else the
        # result.
        messages = nonfinite_x0_messages("solve_ode", ham.neurons) + list(
            RESULTS._index_to_message[1:]
        )
        code = jnp.where(
            jnp.any(bad_x0),
            jnp.argmax(bad_x0).astype(jnp.int32),
            len(ham.neurons) - 1 + result._value.astype(jnp.int32),
        )
        failed = jnp.any(bad_x0) | (result != RESULTS.successful)
        out = eqx.branched_error_if(out, failed, code, messages)
    return out
