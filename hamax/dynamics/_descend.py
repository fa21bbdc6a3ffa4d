import contextlib
import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._custom_types import States
from .._ham import HAM
from .._system import ClampedSystem
from ._adjoint import BPTT, AbstractAdjoint, Implicit
from ._args import (
    check_dtypes,
    deprecated_args,
    monitor_arg,
    nonfinite_x0_messages,
    normalize_clamp as normalize_clamp,
    stop_arg,
)
from ._loop import LoopConfig, all_finite, write
from ._monitor import Monitor, record_rise, status
from ._save import Save
from ._solution import RESULTS, Solution
from ._stop import AbstractStop, Converged as Converged, Steps


# Over 80 lines: half of it is the docstring; the rest checks the arguments up
# front, in the order the errors are documented, then hands over to one jit.
def descend(
    system: HAM | ClampedSystem,
    x0: States,
    *,
    dt: float | jax.Array = 0.1,
    stop: AbstractStop | None = None,
    steps: int | np.integer | None = None,
    clamp: Any = None,
    adjoint: AbstractAdjoint | str = BPTT(),
    save: Save = Save(),
    check_monotone: bool | Monitor = False,
    throw: bool = True,
    monotone_rtol: float | None = None,
    **deprecated: Any,
) -> Solution:
    r"""Run the dynamics $x \leftarrow x - \frac{dt}{\tau}\,\partial E/\partial g$.

    One jitted loop (`lax.scan` for [`hamax.Steps`][], `lax.while_loop` for
    [`hamax.Converged`][]), for any HAM. Clamped layers are *structural*: they
    leave the loop, their energy gradient is never computed, and the drive they
    send through each synapse is computed once ([`hamax.ClampedSystem`][]).

    **Arguments:**

    - `system`: a [`hamax.ClampedSystem`][] (from `ham.clamp(...)`), whose
      clamped work is done once and can be reused across calls, or a
      [`hamax.HAM`][] together with `clamp`.
    - `x0`: initial states, for one example (`jax.vmap` for batches): of the free
      layers for a system; of every layer for a HAM (clamped layers keep theirs).
    - `dt`: the step size, > 0.
    - `stop`: [`hamax.Steps`][]`(n)` or [`hamax.Converged`][]`(...)`;
      `steps=n` is shorthand for `stop=hamax.Steps(n)`.
    - `clamp` (HAM only): layer names held fixed, or a dict name -> `True` /
      boolean mask (True marks the elements held fixed).
    - `adjoint`: how gradients flow: [`hamax.BPTT`][]`()` (default),
      [`hamax.Remat`][]`(every=k)` (rematerialise, less memory), or
      [`hamax.Implicit`][]`()` (at the fixed point; needs `Converged`).
    - `save`: a [`hamax.Save`][] saying what to record along the trajectory.
    - `check_monotone`: by default a rise of the energy beyond round-off (an
      unstable descent: `dt` too large) in the last two steps, or in any step
      when the energy is computed at each, is reported as `RESULTS.unstable` in
      `solution.result` (the step in `solution.failed_step`), not raised. `True`
      checks every step and makes a rise a failure, `RESULTS.energy_increased`; a
      [`hamax.Monitor`][] sets the tolerance, or `track=False` skips the check.
    - `throw`: raise on any result other than success (`RESULTS.unstable` is only
      reported); otherwise return it in `solution.result`.

    Deprecated spellings (accepted with a `DeprecationWarning` for one release):
    `save_energy=`, `save_states=`, `save_components=` (use `save=Save(...)`),
    `checkpoint=True` (use `adjoint=Remat()`), `adjoint="bptt"` / `"implicit"`
    (use `BPTT()` / `Implicit()`).

    **Returns:** a [`hamax.Solution`][].

    !!! example

        ```python
        sol = hamax.descend(ham.clamp({"image": img}), {"label": x}, dt=0.4, steps=4)
        label = ham.neurons["label"].activation(sol.states["label"])
        ```
    """
    adjoint, save = deprecated_args(adjoint, save, deprecated)
    stop = stop_arg(stop, steps)
    monitor = monitor_arg(check_monotone, monotone_rtol)
    if isinstance(dt, bool) or (isinstance(dt, int | float) and not dt > 0):
        raise ValueError(f"descend expected `dt` > 0, got dt={dt!r}.")
    if isinstance(dt, int | float) and not dt < float("inf"):
        raise ValueError(f"descend expected a finite `dt`, got dt={dt!r}.")
    if isinstance(adjoint, Implicit) and isinstance(stop, Steps):
        raise ValueError(
            "descend(adjoint=hamax.Implicit()) differentiates a fixed point, so it "
            "needs `stop=hamax.Converged(...)` instead of a fixed number of steps."
        )
    if isinstance(adjoint, Implicit):
        # Outside the jit: make_step's failure counter becomes a traced argument.
        adjoint = adjoint.with_probe()
    cfg = LoopConfig(stop=stop, save=save, monitor=monitor, remat=0)
    if isinstance(system, ClampedSystem):
        if clamp is not None:
            raise ValueError(
                "descend got `clamp` with a ClampedSystem, which is clamped already; "
                "clamp when you make it: ham.clamp(values, masks)."
            )
        system.check(x0, "descend")
        check_dtypes(x0)
        _check_budget(system.ham, x0, stop, save)
        dtype = jnp.result_type(*x0.values())
        with plain_errors():
            return _descend_system(
                system, dict(x0), jnp.asarray(dt, dtype), adjoint, cfg, throw
            )
    if not isinstance(system, HAM):
        raise ValueError(
            "descend expected a hamax.HAM or a hamax.ClampedSystem (ham.clamp(...)), "
            f"got {type(system).__name__}."
        )
    system.check_states(x0, "descend")
    whole, masks = normalize_clamp(system, clamp)
    if len(whole) == len(system.neurons):
        raise ValueError(
            "descend got every layer clamped, so nothing can move; leave at least "
            "one layer out of `clamp`."
        )
    check_dtypes(x0)
    _check_budget(system, x0, stop, save)
    dtype = jnp.result_type(*x0.values())
    with plain_errors():
        return _descend_ham(
            system, dict(x0), whole, masks, jnp.asarray(dt, dtype), adjoint, cfg, throw
        )


@contextlib.contextmanager
def plain_errors():
    """Re-raise a runtime error of the descent with its own message as the first
    line (equinox puts a stack banner and debugging advice around it)."""
    try:
        yield
    except eqx.EquinoxRuntimeError as e:
        msg = str(e)
        head = "equinox.EquinoxRuntimeError: "
        if head not in msg:
            raise
        msg = msg.split(head, 1)[1].split("\n\n-------------------", 1)[0]
        raise eqx.EquinoxRuntimeError(msg.strip()) from None


def _check_budget(ham, x0, stop, save) -> None:
    if save.energy or save.states or save.components:
        itemsize = jnp.dtype(jnp.result_type(*x0.values())).itemsize
        n_states = sum(math.prod(layer.shape) for layer in ham.neurons.values())
        n_terms = len(ham.neurons) + len(ham.connections)
        save.check_budget(stop.max_steps, n_states * itemsize, n_terms, itemsize)


@eqx.filter_jit
def _descend_ham(ham, x0, whole, masks, dt, adjoint, cfg, throw) -> Solution:
    system = ClampedSystem(ham, {k: x0[k] for k in (*whole, *masks)}, masks)
    free0 = {k: x0[k] for k in system.free_names}
    sol = _solve(system, free0, x0, dt, adjoint, cfg, throw)
    # The wholly clamped layers come back as the very arrays given (not as
    # outputs of the runtime check): a loop of descend calls then hands the next
    # call the same values, so XLA computes their drive on the free layers once.
    states = {**sol.states, **{k: x0[k] for k in whole}}
    return eqx.tree_at(lambda s: s.states, sol, states)


@eqx.filter_jit
def _descend_system(system, free0, dt, adjoint, cfg, throw) -> Solution:
    check = {
        **free0,
        **system.clamped,
        **{
            f"{k}'s known values" if k in free0 else k: v
            for k, v in system.known.items()
        },
    }
    return _solve(system, free0, check, dt, adjoint, cfg, throw)


def _solve(system, free0, check, dt, adjoint, cfg, throw) -> Solution:
    bad_x0 = jnp.stack([~all_finite(v) for v in check.values()])
    dt = eqx.error_if(dt, ~(dt > 0), "descend: `dt` must be > 0.")
    out = adjoint.loop(system, free0, dt, cfg)
    free = system.free_names
    x_final = out.x
    n = out.i
    out, E_final = _after_loop(system, out, cfg)
    result = status(out, cfg)
    failed_step = jnp.where(out.failed_step >= 0, out.failed_step, out.first_increase)
    sol = Solution(
        states=system.states(x_final),
        num_steps=n,
        result=result,
        energy=E_final,
        energies=out.energies,
        energy_components=out.comps,
        trajectory=out.traj,
        failed_step=failed_step,
        failed_layer=out.failed_layer,
        energy_increase=out.increase,
        failed_layers_order=free,
    )
    if throw:
        # One runtime check per call (each is a host callback that orders the
        # program): a non-finite x0 first, else the result.
        messages = nonfinite_x0_messages("descend", check) + list(
            RESULTS._index_to_message[1:]
        )
        # What raises depends only on what raises: not on the reported
        # `unstable`, whose energy evaluations XLA then drops when the caller
        # never reads `solution.result`.
        raised = status(out, cfg, report=False)
        code = jnp.where(
            jnp.any(bad_x0),
            jnp.argmax(bad_x0).astype(jnp.int32),
            len(check) - 1 + raised._value.astype(jnp.int32),
        )
        failed = raised != RESULTS.successful
        sol = eqx.branched_error_if(sol, jnp.any(bad_x0) | failed, code, messages)
    else:
        # The x0 check still runs (on the returned free states, small next to a
        # clamped image) unless the caller asked for no runtime errors at all.
        sol = eqx.tree_at(
            lambda s: s.states,
            sol,
            {
                **sol.states,
                **eqx.branched_error_if(
                    {k: sol.states[k] for k in free},
                    jnp.any(bad_x0),
                    jnp.argmax(bad_x0),
                    [
                        f"descend: x0[{k!r}] contains NaN or inf; give finite "
                        "initial states."
                        for k in check
                    ],
                ),
            },
        )
    return sol


def _after_loop(system, out, cfg):
    """The monotonicity check of the last step(s) and the final saves; returns
    the carry and the final energy (None where the loop computed none)."""
    x_final, n = out.x, out.i
    E_final = None
    if cfg.need_energy:
        # The last step's rise: the loop saw the energy before each step only.
        E_final, scale = system._energy_scale(x_final)
        out, _ = record_rise(
            out, cfg.monitor, out.prev_E, lax.stop_gradient(E_final), scale, n
        )
        if cfg.save.energy:
            out = out._replace(energies=out.energies.at[n].set(E_final))
    elif cfg.end_check:
        # Three energies, not one per step (which would cost a pass over every
        # hidden layer per step): a descent whose dt is too large climbs or
        # oscillates at its end, and a 2-cycle rises in one of the last two steps.
        # The clamped layers' terms cancel in each difference: left out. No
        # gradient flows through the check (no residuals saved for it).
        params, static = eqx.partition(system, eqx.is_inexact_array)
        seen = eqx.combine(lax.stop_gradient(params), static)
        E1, scale1 = seen._energy_scale(out.x1, constants=False)
        E0, scale = seen._energy_scale(lax.stop_gradient(x_final), constants=False)
        if not (isinstance(cfg.stop, Steps) and cfg.stop.n == 1):
            # (after one step x_{n-2} is x_{n-1}: one comparison is all there is)
            E2, _ = seen._energy_scale(out.x2, constants=False)
            out, _ = record_rise(out, cfg.monitor, E2, E1, scale1, n - 1)
        out, _ = record_rise(out, cfg.monitor, E1, E0, scale, n)
    if cfg.save.states:
        out = out._replace(traj=write(out.traj, n, system.states(x_final)))
    if cfg.save.components:
        out = out._replace(comps=write(out.comps, n, system.components(x_final)))
    return out, E_final
