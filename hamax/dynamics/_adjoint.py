"""How gradients flow through a descent: adjoint strategies."""

import abc
import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.scipy.sparse.linalg
import jax.tree_util as jtu
from jax import lax

from .._system import ClampedSystem
from . import _guard
from ._loop import LoopConfig, LoopState, run_loop
from ._stop import Steps


class AbstractAdjoint(eqx.Module):
    """How reverse-mode gradients flow through [`hamax.descend`][]: subclass it, or
    use [`hamax.BPTT`][], [`hamax.Remat`][] or [`hamax.Implicit`][]."""

    @abc.abstractmethod
    def loop(self, system: ClampedSystem, free0, dt, cfg: LoopConfig) -> LoopState:
        """Run the loop (`hamax.dynamics` internals) with this adjoint; returns
        its final carry."""


class BPTT(AbstractAdjoint):
    """Backpropagation through time: differentiate the loop as it ran, storing
    every step's intermediates. Fastest for short descents; memory grows with the
    number of steps. Reverse mode needs a fixed number of steps ([`hamax.Steps`][]).
    """

    def loop(self, system, free0, dt, cfg):
        return run_loop(system, free0, dt, cfg)


class Remat(AbstractAdjoint):
    """Backpropagation through time that stores the state only every `every`
    steps and recomputes the steps in between during the backward pass
    (`jax.checkpoint`). `every=1` stores one state per step and recomputes each
    step's internals, which on the paper's models is faster as well as leaner
    (see docs/benchmarks.md). The default adjoint for training.
    """

    every: int = eqx.field(static=True, default=1)

    def __check_init__(self):
        if isinstance(self.every, bool) or not (
            isinstance(self.every, int) and self.every >= 1
        ):
            raise ValueError(
                f"Remat expected `every` to be an int >= 1, got {self.every!r}."
            )

    def loop(self, system, free0, dt, cfg):
        return run_loop(system, free0, dt, dataclasses.replace(cfg, remat=self.every))


class Implicit(AbstractAdjoint):
    r"""Differentiate the fixed point, not the loop (implicit function theorem).

    At the fixed point the residual $r(x^*, \theta) = \partial E/\partial g$ is
    zero, so $dx^*/d\theta = -(\partial r/\partial x)^{-1}\partial r/\partial\theta$;
    the backward pass solves $(\partial r/\partial x)^\top\lambda = \bar{x}$
    matrix-free. Memory does not grow with the number of steps. Needs a
    convergent stopping rule ([`hamax.Converged`][]).

    **The solve is checked.** Every backward pass tests its $\lambda$: finite,
    and the relative residual $\|(\partial r/\partial x)^\top\lambda -
    \bar{x}\| / \|\bar{x}\|$ at most `rtol`. A solve that fails (an
    ill-conditioned or singular Jacobian at the fixed point, a descent that
    stopped short of it, too few solver iterations) then

    - with `fallback=hamax.Remat()` (or `hamax.BPTT()`): takes that example's
      gradient by backpropagation through the descent instead, re-run from the
      same initial state for as many steps as the forward pass took (so it
      equals the gradient of `descend(..., stop=hamax.Steps(n), adjoint=fallback)`);
      the choice is a `lax.cond` per example, so it works under `jax.jit` and
      `jax.vmap` (under `vmap` both branches run: a fallback costs the
      re-run's time in every backward pass, and its memory);
    - without a fallback: raises an `EquinoxRuntimeError` saying the implicit
      solve failed (`jax.grad` through `descend`, jitted or not).

    Under [`hamax.training.make_step`][] and [`hamax.training.train`][] nothing
    is raised from inside the step. The backward pass reports its counts as the
    cotangent of a zero-valued probe that `make_step` differentiates beside the
    model (a plain output of the gradient, so it survives `jit`, `vmap` and the
    data-parallel trainer, where a side effect or a deliberately tagged NaN
    would not): `make_step` returns them as the metrics `implicit_failures` and
    `implicit_fallbacks`, refuses a step with a failure that had no fallback
    (its loss is NaN and the update is not applied, as for a divergence), and
    `train` stops naming the epoch and batch and saying the implicit solve
    failed (or raises with `on_nonfinite="raise"`). With a fallback, training
    goes on and each epoch's row counts the steps that fell back
    (`train_implicit_fallbacks`).

    **Arguments:**

    - `linear_solver`: a `lineax` solver (e.g. `lineax.GMRES(rtol, atol)`), or
      `None` (default) for `jax.scipy.sparse.linalg.gmres` with a tolerance set by
      the dtype.
    - `rtol`: the largest relative residual a solve may leave (default: the
      square root of the dtype's machine epsilon; loosen it with a loose
      `linear_solver`).
    - `fallback`: `None` (default: a failed solve is an error) or the adjoint to
      fall back on, [`hamax.Remat`][] or [`hamax.BPTT`][].
    """

    linear_solver: Any = eqx.field(static=True, default=None)
    rtol: float | None = eqx.field(static=True, default=None)
    fallback: AbstractAdjoint | None = eqx.field(static=True, default=None)
    # The failure counter of an enclosing make_step (hamax.dynamics._guard);
    # attached by descend, never by hand.
    probe: Any = None

    def __check_init__(self):
        if self.fallback is not None and not isinstance(self.fallback, BPTT | Remat):
            raise ValueError(
                "Implicit expected `fallback` to be None, hamax.Remat(...) or "
                f"hamax.BPTT(), got {self.fallback!r}."
            )
        r = self.rtol
        if r is not None and (
            isinstance(r, bool)
            or not isinstance(r, int | float)
            or not 0 < r < float("inf")
        ):
            raise ValueError(
                "Implicit expected `rtol` to be None or a finite number > 0, "
                f"got {r!r}."
            )

    def with_probe(self) -> "Implicit":
        """This adjoint reporting to the enclosing failure counter, if any."""
        probe = _guard.current_probe()
        if probe is None:
            return self
        return eqx.tree_at(lambda a: a.probe, self, probe, is_leaf=lambda x: x is None)

    def loop(self, system, free0, dt, cfg):
        if isinstance(cfg.stop, Steps):
            raise ValueError(
                "descend(adjoint=hamax.Implicit()) differentiates a fixed point, so it "
                "needs `stop=hamax.Converged(...)` instead of a fixed number of steps."
            )
        how = (self.linear_solver, self.rtol, self.fallback)
        return _implicit_loop((system, self.probe), free0, dt, cfg, how)


FAILED = (
    "hamax.Implicit: the adjoint's linear solve failed (non-finite, or its relative "
    "residual above `rtol`): the Jacobian at the fixed point is ill-conditioned or "
    "the descent did not reach it. Pass `Implicit(fallback=hamax.Remat())` to "
    "backpropagate through the descent instead, tighten the stopping rule, or give "
    "a stronger `linear_solver`."
)


@eqx.filter_custom_vjp
def _implicit_loop(diff, free0, dt, cfg, how):
    return run_loop(diff[0], free0, dt, cfg)


@_implicit_loop.def_fwd
def _implicit_loop_fwd(perturbed, diff, free0, dt, cfg, how):
    del perturbed
    out = run_loop(diff[0], free0, dt, cfg)
    return out, (out.x, out.i)


# Over 40 lines: the solve, its check and the fallback share one set of closures.
@_implicit_loop.def_bwd
def _implicit_loop_bwd(res, grad_out, perturbed, diff, free0, dt, cfg, how):
    del perturbed
    system, probe = diff
    solver, rtol, fallback = how
    x_star, n = res
    # Layers the loss does not read come back as None (symbolic zeros).
    ybar = {
        k: jnp.zeros_like(x_star[k]) if v is None else v for k, v in grad_out.x.items()
    }
    params, static = eqx.partition(system, eqx.is_inexact_array)

    def residual(x, p):
        return eqx.combine(p, static).residual(x)

    _, vjp_x = jax.vjp(lambda x: residual(x, params), x_star)
    flat, unravel = jax.flatten_util.ravel_pytree(ybar)

    def matvec(v):
        return jax.flatten_util.ravel_pytree(vjp_x(unravel(v))[0])[0]

    if solver is None:
        tol = 1e-10 if flat.dtype == jnp.float64 else 1e-6
        lam, _ = jax.scipy.sparse.linalg.gmres(
            matvec, flat, tol=tol, restart=40, maxiter=25
        )
    else:
        import lineax as lx

        op = lx.FunctionLinearOperator(
            matvec, jax.ShapeDtypeStruct(flat.shape, flat.dtype)
        )
        lam = lx.linear_solve(op, flat, solver, throw=False).value
    ok = _guard.solve_ok(
        matvec, flat, lam, _guard.default_rtol(flat.dtype) if rtol is None else rtol
    )

    def implicit_grad():
        _, vjp_p = jax.vjp(lambda p: residual(x_star, p), params)
        return vjp_p(jtu.tree_map(jnp.negative, unravel(lam)))[0]

    def fallback_grad():
        remat = fallback.every if isinstance(fallback, Remat) else 0
        steps = cfg.stop.max_steps

        def states(p):
            return _guard.rerun(eqx.combine(p, static), free0, dt, n, steps, remat)

        _, vjp_p = jax.vjp(states, params)
        return vjp_p(ybar)[0]

    if fallback is not None:
        gp = lax.cond(ok, implicit_grad, fallback_grad)
    else:
        gp = implicit_grad()
        if probe is None:
            gp = eqx.error_if(gp, ~ok, FAILED)
        else:
            # make_step refuses the step; NaN keeps a caller who ignores the
            # count from applying a wrong gradient.
            gp = jtu.tree_map(lambda g: jnp.where(ok, g, jnp.nan), gp)
    if probe is None:
        return gp, None
    bad = (~ok).astype(probe.dtype)
    if fallback is None:
        return gp, jnp.stack([bad, jnp.zeros_like(bad)])
    return gp, jnp.stack([jnp.zeros_like(bad), bad])
