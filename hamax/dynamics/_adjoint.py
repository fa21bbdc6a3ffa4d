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

from .._system import ClampedSystem
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

    **Arguments:**

    - `linear_solver`: a `lineax` solver (e.g. `lineax.GMRES(rtol, atol)`), or
      `None` (default) for `jax.scipy.sparse.linalg.gmres` with a tolerance set by
      the dtype.
    """

    linear_solver: Any = eqx.field(static=True, default=None)

    def loop(self, system, free0, dt, cfg):
        if isinstance(cfg.stop, Steps):
            raise ValueError(
                "descend(adjoint=hamax.Implicit()) differentiates a fixed point, so it "
                "needs `stop=hamax.Converged(...)` instead of a fixed number of steps."
            )
        return _implicit_loop(system, free0, dt, cfg, self.linear_solver)


@eqx.filter_custom_vjp
def _implicit_loop(system, free0, dt, cfg, solver):
    return run_loop(system, free0, dt, cfg)


@_implicit_loop.def_fwd
def _implicit_loop_fwd(perturbed, system, free0, dt, cfg, solver):
    del perturbed
    out = run_loop(system, free0, dt, cfg)
    return out, out.x


@_implicit_loop.def_bwd
def _implicit_loop_bwd(x_star, grad_out, perturbed, system, free0, dt, cfg, solver):
    del perturbed, dt, free0
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
    _, vjp_p = jax.vjp(lambda p: residual(x_star, p), params)
    (gp,) = vjp_p(jtu.tree_map(jnp.negative, unravel(lam)))
    return gp
