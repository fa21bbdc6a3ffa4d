"""The descent loop: `lax.scan` for a fixed number of steps, `lax.while_loop`
until a stopping rule says done; bookkeeping for status, monotonicity and saves."""

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
from jax import lax

from .._custom_types import States
from .._system import ClampedSystem
from ._monitor import Monitor, record_rise
from ._save import Save
from ._stop import AbstractStop, Steps


@dataclasses.dataclass(frozen=True)
class LoopConfig:
    """Static settings of one loop (hashable: part of the jit cache key)."""

    stop: AbstractStop
    save: Save
    monitor: Monitor
    remat: int  # 0: none; k: rematerialise every k steps in the backward pass

    @property
    def need_energy(self) -> bool:
        """Whether the energy is part of the result (a non-finite one fails)."""
        return self.save.energy or self.monitor.monotone or self.stop.needs_energy

    @property
    def end_check(self) -> bool:
        """Whether only the last two steps' energies are compared (the default,
        when the energy is not computed at every step anyway)."""
        return self.monitor.track and not self.need_energy


class LoopState(NamedTuple):
    """The carry of the descent loop (and what it returns): the free states and
    the bookkeeping for the status, the monotonicity check and the saves."""

    x: States  # the free layers' states (the last finite ones after a failure)
    i: Any  # steps taken
    failed_step: Any  # first step whose update was non-finite; -1 if none
    failed_layer: Any  # index (in free_names) of its first non-finite layer
    increase: Any  # largest energy rise seen
    first_increase: Any  # first step whose energy rose beyond round-off; -1
    prev_E: Any  # energy before the last step (NaN before the first)
    dE: Any  # |energy change| of the last step (inf before the first)
    done: Any  # whether the stopping rule is met
    x1: States | None  # the end check's x_{n-1} (None without it)
    x2: States | None  # the end check's x_{n-2}
    energies: Any  # saved energies, (max_steps + 1,), or None
    traj: Any  # saved states, or None
    comps: Any  # saved energy components, or None


def all_finite(v):
    """Whether every element of `v` is finite, as one float reduction (max|v| is
    finite iff every element is; XLA:CPU reduces floats faster than booleans)."""
    if v.size == 0:
        return jnp.array(True)
    return jnp.isfinite(jnp.max(jnp.abs(v)))


def buffer(tree, n):
    """NaN-filled `(n + 1, ...)` buffers shaped like `tree`'s leaves."""
    return jtu.tree_map(
        lambda a: jnp.full((n + 1, *jnp.shape(a)), jnp.nan, jnp.result_type(a)), tree
    )


def write(buf, i, tree):
    """`buf` with row `i` set to `tree`."""
    return jtu.tree_map(lambda b, a: b.at[i].set(a), buf, tree)


# Over 80 lines: one loop body serves lax.scan and lax.while_loop, so the
# carry's bookkeeping (failure, monotonicity, saves, stopping) is written once.
def run_loop(system: ClampedSystem, free0: States, dt, cfg: LoopConfig) -> LoopState:
    """Run the descent from `free0`; returns the final carry (free states `x`,
    step count `i`, failure bookkeeping and saved buffers)."""
    free = system.free_names

    def step(x):
        if cfg.need_energy:
            # The energy comes with the gradient (one pass); the scale of its
            # terms is a few scalar sums.
            E, grad, scale = system.energy_grad_scale(x)
        else:
            E, grad = system.energy_and_grad(x, need_energy=False)
            scale = jnp.zeros((), dt.dtype)
        new = system.update(x, grad, dt)
        finite = jnp.stack([all_finite(new[k]) for k in free] or [True])
        return E, scale, new, finite

    if cfg.remat == 1:
        step = jax.checkpoint(step)

    nsave = cfg.stop.max_steps
    nan = jnp.array(jnp.nan, dt.dtype)
    init = LoopState(
        x=dict(free0),
        i=jnp.array(0),
        failed_step=jnp.array(-1),
        failed_layer=jnp.array(-1),
        increase=jnp.zeros((), dt.dtype),
        first_increase=jnp.array(-1),
        prev_E=nan,
        dE=jnp.array(jnp.inf, dt.dtype),
        done=jnp.array(False),
        # The end check keeps the two previous states (x_{n-2}, x_{n-1}).
        x1=dict(free0) if cfg.end_check else None,
        x2=dict(free0) if cfg.end_check else None,
        energies=jnp.full((nsave + 1,), jnp.nan, dt.dtype) if cfg.save.energy else None,
        traj=buffer(system.states(free0), nsave) if cfg.save.states else None,
        comps=buffer(system.components(free0), nsave) if cfg.save.components else None,
    )

    def body(c: LoopState) -> LoopState:
        E, scale, new, finite = step(c.x)
        i = c.i
        ok = jnp.all(finite) & (jnp.isfinite(E) if cfg.need_energy else True)
        first_bad = (c.failed_step < 0) & ~ok
        c = c._replace(
            failed_step=jnp.where(first_bad, i, c.failed_step),
            failed_layer=jnp.where(first_bad, jnp.argmin(finite), c.failed_layer),
        )
        if cfg.need_energy:
            # Bookkeeping only: no gradient flows through the monitor.
            E_seen = lax.stop_gradient(E)
            c, rise = record_rise(c, cfg.monitor, c.prev_E, E_seen, scale, i)
            c = c._replace(dE=jnp.where(i > 0, jnp.abs(rise), jnp.inf), prev_E=E_seen)
        if cfg.save.energy:
            c = c._replace(energies=c.energies.at[i].set(E))
        if cfg.save.states:
            c = c._replace(traj=write(c.traj, i, system.states(c.x)))
        if cfg.save.components:
            c = c._replace(comps=write(c.comps, i, system.components(c.x)))
        if not isinstance(cfg.stop, Steps):
            upd = jnp.max(jnp.stack([jnp.max(jnp.abs(new[k] - c.x[k])) for k in free]))
            size = jnp.max(jnp.stack([jnp.max(jnp.abs(new[k])) for k in free]))
            c = c._replace(done=cfg.stop.done(upd, size, c.dE))
        if cfg.end_check:
            c = c._replace(x2=c.x1, x1=lax.stop_gradient(c.x))
        # A non-finite update is not applied: the last finite state is kept.
        keep = ok & (c.failed_step < 0)
        x = jtu.tree_map(lambda a, b: jnp.where(keep, b, a), c.x, new)
        return c._replace(x=x, i=i + 1)

    if isinstance(cfg.stop, Steps):
        return _scan(body, init, cfg.stop.n, cfg.remat)

    stop = cfg.stop

    def cond(c):
        return (c.i < stop.max_steps) & ~c.done & (c.failed_step < 0)

    return lax.while_loop(cond, body, init)


def _scan(body, init, n: int, remat: int):
    if remat <= 1 or n <= 1:
        out, _ = lax.scan(lambda c, _: (body(c), None), init, length=n)
        return out

    # Rematerialise every `remat` steps: the backward pass stores the carry once
    # per chunk and recomputes the chunk's steps.
    @jax.checkpoint
    def chunk(c):
        out, _ = lax.scan(lambda c, _: (body(c), None), c, length=remat)
        return out

    out, _ = lax.scan(lambda c, _: (chunk(c), None), init, length=n // remat)
    if n % remat:
        out, _ = lax.scan(lambda c, _: (body(c), None), out, length=n % remat)
    return out
