import dataclasses
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.scipy.sparse.linalg
import jax.tree_util as jtu
from jax import lax

from ._custom_types import States
from ._ham import HAM
from ._misc import suggest, tree_sum
from ._solution import RESULTS, Solution
from .synapses._base import AbstractSynapse


class Converged(eqx.Module):
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
        if not (isinstance(self.max_steps, int) and self.max_steps > 0):
            raise ValueError(
                f"Converged expected `max_steps` to be a positive int, got "
                f"{self.max_steps!r}."
            )
        if self.atol < 0 or self.rtol < 0:
            raise ValueError(
                f"Converged expected non-negative tolerances, got atol={self.atol}, "
                f"rtol={self.rtol}."
            )


@dataclasses.dataclass(frozen=True)
class _Config:
    clamped: tuple[str, ...]
    steps: int | None
    stop: Converged | None
    save_energy: bool
    save_states: bool
    save_components: bool
    check_monotone: bool
    monotone_rtol: float
    checkpoint: bool
    adjoint: str
    throw: bool

    @property
    def need_energy(self) -> bool:
        return (
            self.save_energy
            or self.check_monotone
            or (self.stop is not None and self.stop.energy_atol is not None)
        )


def normalize_clamp(ham: HAM, clamp: Any, where: str = "descend"):
    """Split `clamp` into whole clamped layer names and element masks."""
    if clamp is None:
        return (), {}
    if isinstance(clamp, str):
        clamp = (clamp,)
    items = clamp.items() if isinstance(clamp, Mapping) else ((k, True) for k in clamp)
    whole, masks = [], {}
    for name, mask in items:
        if name not in ham.neurons:
            raise ValueError(
                f"{where} got clamp for {name!r}, which is not a neuron layer (have: "
                f"{', '.join(map(repr, ham.neurons))})." + suggest(name, ham.neurons)
            )
        if isinstance(mask, bool):
            if mask:
                whole.append(name)
            continue
        mask = jnp.asarray(mask)
        shape = ham.neurons[name].shape
        if mask.dtype != jnp.bool_:
            raise ValueError(
                f"{where} expected clamp[{name!r}] to be a bool or a boolean mask, got "
                f"dtype {mask.dtype}. True marks elements held fixed."
            )
        try:
            jnp.broadcast_shapes(mask.shape, shape)
        except ValueError:
            raise ValueError(
                f"{where} expected clamp[{name!r}] broadcastable to the layer shape "
                f"{shape}, got mask.shape={mask.shape}."
            ) from None
        masks[name] = jnp.broadcast_to(mask, shape)
    return tuple(whole), masks


def descend(
    ham: HAM,
    x0: States,
    *,
    dt: float | jax.Array = 0.1,
    steps: int | None = None,
    stop: Converged | None = None,
    clamp: Any = None,
    save_energy: bool = False,
    save_states: bool = False,
    save_components: bool = False,
    check_monotone: bool = False,
    monotone_rtol: float = 1e-5,
    checkpoint: bool = False,
    adjoint: str = "bptt",
    throw: bool = True,
) -> Solution:
    r"""Run the dynamics $x \leftarrow x - \frac{dt}{\tau}\,\partial E/\partial g$.

    One jitted loop (`lax.scan` for `steps=N`, `lax.while_loop` for `stop=`), for
    any HAM. Clamped layers are *structural*: they leave the loop carry, their
    energy gradient is never computed, and the drive they send through each
    synapse is computed once per call (`AbstractSynapse.partial`).

    **Arguments:**

    - `ham`: the [`hamax.HAM`][].
    - `x0`: initial states of every layer (one example; `jax.vmap` for batches).
      Clamped layers keep these values.
    - `dt`: the step size, > 0.
    - `steps`: run exactly this many steps, or
    - `stop`: a [`hamax.Converged`][] criterion (with `max_steps`).
    - `clamp`: layer names held fixed, or a dict name -> `True` / boolean mask
      (True marks the elements held fixed).
    - `save_energy`, `save_components`, `save_states`: record the total energy,
      the energy tree, or the states along the trajectory.
    - `check_monotone`: report (as `RESULTS.energy_increased`) the first step
      where the energy rose by more than `monotone_rtol * (1 + |E|)`.
    - `checkpoint`: rematerialise each step in the backward pass
      (`jax.checkpoint`), trading compute for memory when differentiating.
    - `adjoint`: how gradients flow through the descent. `"bptt"` (default)
      differentiates the loop (add `checkpoint=True` to save memory);
      `"implicit"` (needs `stop=`) differentiates the fixed point with the
      implicit function theorem, $dx^*/d\theta = -(\partial r/\partial x)^{-1}
      \partial r/\partial\theta$ for the residual $r = \partial E/\partial g$,
      solved matrix-free with GMRES: memory does not grow with the number of steps.
    - `throw`: raise on any result other than success; otherwise return it in
      `solution.result`.

    **Returns:** a [`hamax.Solution`][].

    !!! example

        ```python
        sol = hamax.descend(ham, xs, dt=0.4, steps=4, clamp=["image"])
        label = ham.neurons["label"].activation(sol.states["label"])
        ```
    """
    if (steps is None) == (stop is None):
        raise ValueError(
            "descend expected exactly one of `steps` (a fixed number of steps) or "
            "`stop` (e.g. hamax.Converged(atol=1e-5, max_steps=1000)), got "
            f"steps={steps!r}, stop={stop!r}."
        )
    if adjoint not in ("bptt", "implicit"):
        raise ValueError(
            f"descend expected `adjoint` to be 'bptt' or 'implicit', got {adjoint!r}."
        )
    if adjoint == "implicit" and stop is None:
        raise ValueError(
            "descend(adjoint='implicit') differentiates a fixed point, so it needs "
            "`stop=hamax.Converged(...)` instead of a fixed number of `steps`."
        )
    if steps is not None and not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"descend expected `steps` to be an int >= 0, got {steps!r}.")
    if isinstance(dt, int | float) and not dt > 0:
        raise ValueError(f"descend expected `dt` > 0, got dt={dt!r}.")
    ham.check_states(x0, "descend")
    whole, masks = normalize_clamp(ham, clamp)
    if len(whole) == len(ham.neurons):
        raise ValueError(
            "descend got every layer clamped, so nothing can move; leave at least "
            "one layer out of `clamp`."
        )
    cfg = _Config(
        clamped=whole,
        steps=steps,
        stop=stop,
        save_energy=save_energy,
        save_states=save_states,
        save_components=save_components,
        check_monotone=check_monotone,
        monotone_rtol=monotone_rtol,
        checkpoint=checkpoint,
        adjoint=adjoint,
        throw=throw,
    )
    dtype = jnp.result_type(*x0.values())
    return _descend(ham, dict(x0), masks, jnp.asarray(dt, dtype), cfg)


@eqx.filter_jit
def _descend(ham: HAM, x0: States, masks, dt, cfg: _Config) -> Solution:
    bad_x0 = jnp.stack([~_all_finite(v) for v in x0.values()])
    dt = eqx.error_if(dt, ~(dt > 0), "descend: `dt` must be > 0.")
    if cfg.adjoint == "implicit":
        out = _implicit_loop((ham, x0), masks, dt, cfg)
    else:
        out = _run_loop(ham, x0, masks, dt, cfg)
    free = tuple(k for k in ham.neurons if k not in cfg.clamped)
    # Checked on the returned free states (small next to a clamped image, which
    # the check would otherwise copy), so it runs whenever the states are used,
    # and before `result.error_if` below, which takes them as input.
    x_final = eqx.branched_error_if(
        out["x"],
        jnp.any(bad_x0),
        jnp.argmax(bad_x0),
        [
            f"descend: x0[{k!r}] contains NaN or inf; give finite initial states."
            for k in x0
        ],
    )
    n = out["i"]
    # Energies of the final state only when asked for (the loop's system is not
    # returned, so this rebuilds the clamped drive; XLA shares it with the loop's).
    if cfg.need_energy or cfg.save_components:
        system = _FreeSystem.build(ham, x0, cfg.clamped)
    E_final = None
    if cfg.need_energy:
        E_final = system.energy(x_final)
        if cfg.save_energy:
            out["energies"] = out["energies"].at[n].set(E_final)
    if cfg.save_states:
        out["traj"] = _write(out["traj"], n, {**x0, **x_final})
    if cfg.save_components:
        out["comps"] = _write(out["comps"], n, system.components(x_final))

    R: Any = RESULTS  # mypy reads eqx.Enumeration members as str
    result = R.where(
        out["failed_step"] >= 0,
        R.nonfinite,
        R.where(
            jnp.asarray(cfg.check_monotone) & (out["first_increase"] >= 0),
            R.energy_increased,
            R.where(
                jnp.asarray(cfg.stop is None) | out["done"],
                R.successful,
                R.max_steps_reached,
            ),
        ),
    )
    failed_step = jnp.where(
        out["failed_step"] >= 0, out["failed_step"], out["first_increase"]
    )
    sol = Solution(
        states={**x0, **x_final},
        num_steps=n,
        result=result,
        energy=E_final,
        energies=out["energies"],
        energy_components=out["comps"],
        trajectory=out["traj"],
        failed_step=failed_step if cfg.check_monotone else out["failed_step"],
        failed_layer=out["failed_layer"],
        energy_increase=out["increase"],
        failed_layers_order=free,
    )
    if cfg.throw:
        sol = result.error_if(sol, result != RESULTS.successful)
    return sol


@eqx.filter_custom_vjp
def _implicit_loop(ham_x0, masks, dt, cfg: _Config):
    """The converged loop, differentiated by the implicit function theorem."""
    ham, x0 = ham_x0
    return _run_loop(ham, x0, masks, dt, cfg)


@_implicit_loop.def_fwd
def _implicit_loop_fwd(perturbed, ham_x0, masks, dt, cfg):
    del perturbed
    ham, x0 = ham_x0
    out = _run_loop(ham, x0, masks, dt, cfg)
    return out, out["x"]


@_implicit_loop.def_bwd
def _implicit_loop_bwd(x_star, grad_out, perturbed, ham_x0, masks, dt, cfg):
    # At the fixed point r(x*, theta) = 0 with r = dE/dg on the free layers, so
    # dx*/dtheta = -(dr/dx)^{-1} dr/dtheta. With the cotangent y of x*, solve
    # (dr/dx)^T lam = y matrix-free (GMRES on vector-Jacobian products), then the
    # cotangent of theta is -(dr/dtheta)^T lam. Nothing depends on the number of
    # steps the forward pass took.
    del perturbed, dt
    ybar = grad_out["x"]
    params, static = eqx.partition(ham_x0, eqx.is_inexact_array)

    def residual(x, p):
        ham, x0 = eqx.combine(p, static)
        system = _FreeSystem.build(ham, x0, cfg.clamped)
        _, grad = system.energy_and_grad(x, need_energy=False)
        return {
            k: jnp.where(masks[k], x[k] - x0[k], grad[k]) if k in masks else grad[k]
            for k in x
        }

    _, vjp_x = jax.vjp(lambda x: residual(x, params), x_star)
    flat, unravel = jax.flatten_util.ravel_pytree(ybar)
    tol = 1e-10 if flat.dtype == jnp.float64 else 1e-6

    def matvec(v):
        return jax.flatten_util.ravel_pytree(vjp_x(unravel(v))[0])[0]

    lam, _ = jax.scipy.sparse.linalg.gmres(
        matvec, flat, tol=tol, restart=40, maxiter=25
    )
    _, vjp_p = jax.vjp(lambda p: residual(x_star, p), params)
    (gp,) = vjp_p(jtu.tree_map(jnp.negative, unravel(lam)))
    return gp


def _run_loop(ham: HAM, x0: States, masks, dt, cfg: _Config) -> dict[str, Any]:
    """Build the loop for `cfg` and run it (scan or while); the raw carry."""
    free = tuple(k for k in ham.neurons if k not in cfg.clamped)
    system = _FreeSystem.build(ham, x0, cfg.clamped)

    def step(x):
        E, grad = system.energy_and_grad(x, need_energy=cfg.need_energy)
        new = {}
        for k in free:
            upd = x[k] - (dt / ham.neurons[k].tau) * grad[k]
            new[k] = jnp.where(masks[k], x[k], upd) if k in masks else upd
        finite = jnp.stack([_all_finite(new[k]) for k in free] or [True])
        return E, new, finite

    if cfg.checkpoint:
        step = jax.checkpoint(step)

    nsave = cfg.steps if cfg.steps is not None else cfg.stop.max_steps  # type: ignore[union-attr]
    xfree0 = {k: x0[k] for k in free}
    nan = jnp.array(jnp.nan, dt.dtype)
    init: dict[str, Any] = dict(
        x=xfree0,
        i=jnp.array(0),
        failed_step=jnp.array(-1),
        failed_layer=jnp.array(-1),
        increase=jnp.zeros((), dt.dtype),
        first_increase=jnp.array(-1),
        prev_E=nan,
        dE=jnp.array(jnp.inf, dt.dtype),
        done=jnp.array(False),
        energies=jnp.full((nsave + 1,), jnp.nan, dt.dtype) if cfg.save_energy else None,
        traj=_buffer(x0, nsave) if cfg.save_states else None,
        comps=_buffer(system.components(xfree0), nsave)
        if cfg.save_components
        else None,
    )

    def body(c):
        E, new, finite = step(c["x"])
        i = c["i"]
        ok = jnp.all(finite) & (jnp.isfinite(E) if cfg.need_energy else True)
        c = dict(c)
        first_bad = (c["failed_step"] < 0) & ~ok
        c["failed_step"] = jnp.where(first_bad, i, c["failed_step"])
        c["failed_layer"] = jnp.where(first_bad, jnp.argmin(finite), c["failed_layer"])
        if cfg.need_energy:
            rise = jnp.where(i > 0, E - c["prev_E"], 0.0)
            bad_rise = rise > cfg.monotone_rtol * (1 + jnp.abs(E))
            c["first_increase"] = jnp.where(
                (c["first_increase"] < 0) & bad_rise, i, c["first_increase"]
            )
            c["increase"] = jnp.maximum(c["increase"], jnp.where(i > 0, rise, 0.0))
            c["dE"] = jnp.where(i > 0, jnp.abs(rise), jnp.inf)
            c["prev_E"] = E
        if cfg.save_energy:
            c["energies"] = c["energies"].at[i].set(E)
        if cfg.save_states:
            c["traj"] = _write(c["traj"], i, {**x0, **c["x"]})
        if cfg.save_components:
            c["comps"] = _write(c["comps"], i, system.components(c["x"]))
        if cfg.stop is not None:
            upd = jnp.max(
                jnp.stack([jnp.max(jnp.abs(new[k] - c["x"][k])) for k in free])
            )
            scale = jnp.max(jnp.stack([jnp.max(jnp.abs(new[k])) for k in free]))
            done = upd <= cfg.stop.atol + cfg.stop.rtol * scale
            if cfg.stop.energy_atol is not None:
                done = done & (c["dE"] <= cfg.stop.energy_atol)
            c["done"] = done
        # A non-finite update is not applied: the last finite state is kept.
        keep = ok & (c["failed_step"] < 0)
        c["x"] = jtu.tree_map(lambda a, b: jnp.where(keep, b, a), c["x"], new)
        c["i"] = i + 1
        return c

    out: dict[str, Any]
    if cfg.steps is not None:
        out, _ = lax.scan(lambda c, _: (body(c), None), init, length=cfg.steps)
    else:
        stop = cfg.stop
        assert stop is not None

        def cond(c):
            return (c["i"] < stop.max_steps) & ~c["done"] & (c["failed_step"] < 0)

        out = lax.while_loop(cond, body, init)

    return out


def _all_finite(v):
    # max|v| is finite iff every element is (max propagates NaN): one float
    # reduction, which XLA:CPU runs faster than reducing a boolean array.
    if v.size == 0:
        return jnp.array(True)
    return jnp.isfinite(jnp.max(jnp.abs(v)))


def _buffer(tree, n):
    return jtu.tree_map(
        lambda a: jnp.full((n + 1, *jnp.shape(a)), jnp.nan, jnp.result_type(a)), tree
    )


def _write(buf, i, tree):
    return jtu.tree_map(lambda b, a: b.at[i].set(a), buf, tree)


class _FreeSystem(eqx.Module):
    """The energy as a function of the free layers, clamped layers folded in.

    Built once per descent, outside the loop: activations of clamped layers, their
    layer energies, fully clamped connections and the `partial` of every synapse
    that touches a clamped layer are all computed here, once.
    """

    ham: HAM
    clamped_states: dict
    terms: tuple  # per connection: (free layer names, energy fn) or constant
    const_neuron: dict

    @classmethod
    def build(cls, ham: HAM, x0: States, clamped: tuple[str, ...]):
        g_fixed = {k: ham.neurons[k].activation(x0[k]) for k in clamped}
        const_neuron = {k: ham.neurons[k].energy(x0[k], g_fixed[k]) for k in clamped}
        terms: list[Any] = []
        for names, s in ham.connections:
            syn = ham.synapses[s]
            fixed = {i: g_fixed[n] for i, n in enumerate(names) if n in g_fixed}
            if len(fixed) == len(names):
                terms.append(((), syn(*(g_fixed[n] for n in names))))
            elif not fixed:
                terms.append((names, syn))
            else:
                fn = (
                    syn.partial(fixed)
                    if isinstance(syn, AbstractSynapse)
                    else AbstractSynapse.partial(syn, fixed)  # type: ignore[arg-type]
                )
                terms.append((tuple(n for n in names if n not in g_fixed), fn))
        return cls(ham, {k: x0[k] for k in clamped}, tuple(terms), const_neuron)

    def _connection_energies(self, g):
        return tuple(
            fn(*(g[n] for n in names)) if names else fn for names, fn in self.terms
        )

    def _synaptic(self, g):
        return tree_sum(
            [fn(*(g[n] for n in names)) for names, fn in self.terms if names]
        )

    def _layer_energies(self, x, g):
        free = {k: self.ham.neurons[k].energy(x[k], g[k]) for k in x}
        return {
            k: (free[k] if k in free else self.const_neuron[k])
            for k in self.ham.neurons
        }

    def _constant(self):
        return tree_sum([fn for names, fn in self.terms if not names])

    def activations(self, x):
        return {k: self.ham.neurons[k].activation(v) for k, v in x.items()}

    def energy_and_grad(self, x, need_energy: bool):
        g = self.activations(x)
        if need_energy:
            esyn, dsyn = jax.value_and_grad(self._synaptic)(g)
        else:
            esyn, dsyn = None, jax.grad(self._synaptic)(g)
        grad = {k: self.ham.neurons[k].energy_grad(x[k]) + dsyn[k] for k in x}
        if not need_energy:
            return jnp.zeros(()), grad
        E = esyn + self._constant() + tree_sum(self._layer_energies(x, g))
        return E, grad

    def energy(self, x):
        g = self.activations(x)
        return (
            self._synaptic(g) + self._constant() + tree_sum(self._layer_energies(x, g))
        )

    def components(self, x):
        g = self.activations(x)
        return {
            "neurons": self._layer_energies(x, g),
            "connections": self._connection_energies(g),
        }
