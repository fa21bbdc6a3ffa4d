"""Equilibrium propagation inside an objective's loss: the free and nudged
relaxations, and a surrogate whose gradient is the EP estimate."""

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .._ham import HAM
from .._misc import tree_sum
from ..dynamics import BPTT, Monitor, Steps
from ..dynamics._descend import descend
from ..dynamics._eqprop import EqProp


def eqprop_loss(objective, ham: HAM, batch) -> tuple[jax.Array, dict]:
    r"""`(loss, metrics)` of a descent objective whose adjoint is
    [`hamax.EqProp`][]: the value is the free phase's loss, and its gradient
    with respect to the parameters of `ham` is the EP estimate.

    The objective provides, per example: `_examples(ham, batch)` (the batch as
    per-example inputs), `_clamp(ham, example)` (the clamped system and its
    initial free states), `_read()` (the layers its cost reads), `_cost(ham, g,
    example)` (the per-example cost of those layers' activations `g`, whose
    batch mean is the loss) and `_score(ham, batch, free)` (the loss and metrics
    from the free phase's states).
    """
    est: EqProp = objective.adjoint
    examples = objective._examples(ham, batch)
    params, static = eqx.partition(ham, eqx.is_inexact_array)
    frozen = eqx.combine(lax.stop_gradient(params), static)
    free_stop = objective.stop
    if free_stop is None:
        free_stop = Steps(objective.steps)
    nudged_stop = free_stop if est.nudged is None else est.nudged
    hi, lo = est.betas

    def relax(example):
        # Both phases run on parameters held fixed: nothing is differentiated
        # through the dynamics.
        system, x0 = objective._clamp(frozen, example)
        free = _settle(system, x0, objective.dt, free_stop)
        ends = []
        for beta in (hi, lo):
            if beta == 0.0:
                ends.append(free)
                continue
            dtype = jnp.result_type(*free.values())
            nudged = _nudged_ham(frozen, objective, example, beta, dtype)
            system_b, _ = objective._clamp(nudged, example)
            ends.append(_settle(system_b, free, objective.dt, nudged_stop))
        return free, ends[0], ends[1]

    free, s_hi, s_lo = lax.stop_gradient(jax.vmap(relax)(examples))

    def contrast(example, a, b):
        system, _ = objective._clamp(ham, example)
        f_hi = _total_energy(objective, ham, system, example, a, hi)
        f_lo = _total_energy(objective, ham, system, example, b, lo)
        return (f_hi - f_lo) / (hi - lo)

    surrogate = jnp.mean(jax.vmap(contrast)(examples, s_hi, s_lo))
    loss, metrics = objective._score(ham, batch, free)
    return _value_with_grad_of(loss, surrogate.astype(loss.dtype)), metrics


def _settle(system, x0, dt, stop):
    sol = descend(
        system,
        x0,
        dt=dt,
        stop=stop,
        adjoint=BPTT(),
        throw=False,
        check_monotone=Monitor(track=False),
    )
    return sol.free


def _total_energy(objective, ham, system, example, free, beta: float):
    r"""$E + \beta C$ at the given free states, as a function of the parameters
    only: the states and their activations are held fixed, so its gradient is
    the partial derivative $\partial_\theta F$ of EP.

    In activation coordinates the fixed points are stationary points of the
    total energy, and its partial derivative at fixed activations is: the
    synapses' parameter gradient; $-g$ for a layer's bias $I$; and
    $-\partial L/\partial\theta(x)$ for a Lagrangian's parameters (envelope
    theorem for $L^*(g) = \langle x, g\rangle - L(x)$, which the layer energy's
    custom JVP already encodes with $x$ and $g$ held). Terms of clamped layers
    alone are equal in every phase and cancel in the contrast, so they are left
    out.
    """
    x = lax.stop_gradient(free)
    g = system.activations(x)
    # Element-clamped elements are data, held at fixed states x: their
    # activations keep their dependence on the parameters, as a wholly clamped
    # layer's do inside the system. The free elements are held at fixed g.
    g = {
        k: jnp.where(system.masks[k], v, lax.stop_gradient(v))
        if k in system.masks
        else lax.stop_gradient(v)
        for k, v in g.items()
    }
    layers = tree_sum([ham.neurons[k].energy(x[k], g[k]) for k in x])
    energy = system._synaptic(g) + layers
    if beta != 0.0:
        read = {k: g[k] for k in objective._read()}
        energy = energy + beta * objective._cost(ham, read, example)
    return energy


class _Nudge(eqx.Module):
    # The nudging term beta * C as one more hypersynapse on the layers the
    # objective's cost reads: a nudged phase is an ordinary hamax descent.
    objective: Any
    ham: Any
    example: Any
    beta: jax.Array  # a leaf, so descents at other strengths reuse one compile

    def __call__(self, *gs):
        read = dict(zip(self.objective._read(), gs))
        return self.beta * self.objective._cost(self.ham, read, self.example)


def _nudged_ham(ham: HAM, objective, example, beta: float, dtype) -> HAM:
    name = "eqprop_nudge"
    while name in ham.synapses:
        name += "_"
    # The copy in the synapse forgets the estimator, whose static `beta` would
    # otherwise make every strength a new compile of the descent.
    plain = dataclasses.replace(objective, adjoint=BPTT())
    nudge = _Nudge(plain, ham, example, jnp.asarray(beta, dtype))
    return HAM(
        ham.neurons,
        {**ham.synapses, name: nudge},
        [*ham.connections, (objective._read(), name)],
    )


@jax.custom_jvp
def _value_with_grad_of(value, surrogate):
    # `value`, with the derivative of `surrogate`. When nothing is
    # differentiated (evaluation) the surrogate is dead code that jit removes, so
    # the nudged phases cost nothing there.
    del surrogate
    return value


@_value_with_grad_of.defjvp
def _value_with_grad_of_jvp(primals, tangents):
    value, _ = primals
    _, dsurrogate = tangents
    return value, dsurrogate
