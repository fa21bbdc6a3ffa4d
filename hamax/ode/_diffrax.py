from typing import Any

import diffrax as dfx
import equinox as eqx
import jax
import jax.numpy as jnp

from .._custom_types import States
from .._ham import HAM
from ..dynamics._descend import normalize_clamp
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
      `steady_state`).

    **Returns:** a [`hamax.Solution`][]; `num_steps` counts accepted solver steps
    and `energy` is the final energy.
    """
    ham.check_states(x0, "solve_ode")
    whole, masks = normalize_clamp(ham, clamp, "solve_ode")
    if len(whole) == len(ham.neurons):
        raise ValueError("solve_ode got every layer clamped, so nothing can move.")
    if not t1 > 0:
        raise ValueError(f"solve_ode expected `t1` > 0, got {t1!r}.")
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
    return _solve(ham, dict(x0), masks, cfg)


@eqx.filter_jit
def _solve(ham: HAM, x0: States, masks, cfg) -> Solution:
    whole, t1, solver, rtol, atol, dt0, steady, srtol, satol, max_steps, throw = cfg
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
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in x.values()]))
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
        states=system.states(x),
        num_steps=sol.stats["num_accepted_steps"],
        result=result,
        energy=system.energy(x),
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
        out = result.error_if(out, result != RESULTS.successful)
    return out
