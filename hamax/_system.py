from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, Bool, PRNGKeyArray

from ._custom_types import Scalar, States
from ._misc import suggest, tree_sum
from ._system_checks import as_mask as _as_mask, check_value as _check_value
from .synapses._base import AbstractSynapse


class ClampedSystem(eqx.Module):
    r"""A HAM with some layers held fixed: the energy as a function of the free
    layers only.

    Made by [`hamax.HAM.clamp`][]. Everything that depends only on the clamped
    layers is computed once, here: their activations and layer energies, the
    energy of connections between clamped layers, and the drive every synapse
    receives from its clamped inputs ([`hamax.synapses.AbstractSynapse.partial`][]).
    A loop of `system.step` calls, written by hand or run by
    [`hamax.descend`][], therefore never recomputes it.

    Wholly clamped layers leave the state: `free` dicts hold only the other
    layers. A layer clamped element-wise (`masks`) stays in `free`; its masked
    elements are held at the values given for it.

    !!! example

        ```python
        system = ham.clamp({"image": image})
        x = system.init()
        for _ in range(10):
            x = system.step(x, dt=0.4)
        label = system.activations(x)["label"]
        ```
    """

    ham: Any  # hamax.HAM (not imported here: _ham imports this module)
    clamped: dict[str, Array]
    masks: dict[str, Bool[Array, "..."]]
    known: dict[str, Array]
    term_names: tuple[tuple[str, ...], ...] = eqx.field(static=True)
    term_fns: tuple
    const_neuron: dict

    def __init__(
        self,
        ham,
        clamped: Mapping[str, Array] | None = None,
        masks: Mapping[str, Any] | None = None,
    ):
        clamped = dict(clamped or {})
        masks = dict(masks or {})
        for name in [*clamped, *masks]:
            if name not in ham.neurons:
                raise ValueError(
                    f"clamp got layer {name!r}, which is not a neuron layer (have: "
                    f"{', '.join(map(repr, ham.neurons))})."
                    + suggest(name, ham.neurons)
                )
        for name in masks:
            if name not in clamped:
                raise ValueError(
                    f"clamp got a mask for {name!r} but no value for it; pass the "
                    f"known values as values[{name!r}] (they are used where the mask "
                    "is True)."
                )
        # A layer given with mask False is simply free.
        whole = {k: v for k, v in clamped.items() if k not in masks}
        if len(whole) == len(ham.neurons):
            raise ValueError(
                "clamp got every layer clamped, so nothing can move; leave at least "
                "one layer free."
            )
        for name, value in clamped.items():
            _check_value(ham, name, value)
        self.ham = ham
        self.clamped = {k: jnp.asarray(v) for k, v in whole.items()}
        self.masks = {
            k: _as_mask(ham, k, m) for k, m in masks.items() if m is not False
        }
        self.known = {k: jnp.asarray(clamped[k]) for k in self.masks}
        g_fixed = {k: ham.neurons[k].activation(v) for k, v in self.clamped.items()}
        self.const_neuron = {
            k: ham.neurons[k].energy(self.clamped[k], g_fixed[k]) for k in g_fixed
        }
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
                    else AbstractSynapse.partial(syn, fixed)
                )
                terms.append((tuple(n for n in names if n not in g_fixed), fn))
        self.term_names = tuple(names for names, _ in terms)
        self.term_fns = tuple(fn for _, fn in terms)

    @property
    def terms(self) -> tuple:
        """Per connection: (free layer names, energy function of those layers), or
        ((), constant energy) for a connection between clamped layers."""
        return tuple(zip(self.term_names, self.term_fns))

    # ------------------------------------------------------------ structure
    @property
    def free_names(self) -> tuple[str, ...]:
        """The layers that move, in the HAM's order."""
        return tuple(k for k in self.ham.neurons if k not in self.clamped)

    def init(
        self,
        *,
        scale: float = 0.0,
        key: PRNGKeyArray | None = None,
        dtype=None,
    ) -> States:
        """Initial free states: zeros, or `scale`-sized normal noise (with `key`);
        element-clamped layers hold their known values where masked."""
        given = (*self.clamped.values(), *self.known.values())
        if dtype is None and given:
            dtype = jnp.result_type(*given)
        names = self.free_names
        keys = dict(zip(names, jr.split(key, len(names)))) if key is not None else {}
        x = {
            k: self.ham.neurons[k].init_state(dtype=dtype, scale=scale, key=keys.get(k))
            for k in names
        }
        return self.apply_masks(x)

    def apply_masks(self, free: States) -> States:
        """`free` with every element-clamped element set to its known value."""
        return {
            k: jnp.where(self.masks[k], self.known[k], v) if k in self.masks else v
            for k, v in free.items()
        }

    def states(self, free: States) -> States:
        """All layers' states: the clamped values and `free`, in the HAM's order."""
        merged = {**self.clamped, **free}
        return {k: merged[k] for k in self.ham.neurons}

    def check(self, free: Any, where: str = "ClampedSystem") -> None:
        """Raise a clear ValueError unless `free` holds one state of the right shape
        and a floating dtype for each free layer (trace-time check)."""
        if not isinstance(free, Mapping):
            raise ValueError(
                f"{where} expected the free states as a dict layer name -> array, "
                f"got {type(free).__name__}."
            )
        names = self.free_names
        extra = [k for k in free if k not in names]
        missing = [k for k in names if k not in free]
        if extra or missing:
            raise ValueError(
                f"{where} expected states for exactly the free layers "
                f"{list(names)}, got {list(free)}"
                + (f" (clamped or unknown: {extra})" if extra else "")
                + (f" (missing: {missing})" if missing else "")
                + ". system.init() makes them; to continue a descent, pass its "
                "`solution.free` (not `.states`)."
            )
        self.ham.check_states(self.states(dict(free)), where)

    # ------------------------------------------------------------ energy
    def activations(self, free: States) -> States:
        r"""The activations $g = \nabla L(x)$ of the free layers."""
        return {k: self.ham.neurons[k].activation(v) for k, v in free.items()}

    def _synaptic_terms(self, g) -> list:
        return [fn(*(g[n] for n in names)) for names, fn in self.terms if names]

    def _synaptic(self, g):
        return tree_sum(self._synaptic_terms(g))

    def _constants(self) -> list:
        return [fn for names, fn in self.terms if not names]

    def _constant(self):
        return tree_sum(self._constants())

    def _full_grad(self, free, dsyn) -> States:
        return {k: self.ham.neurons[k].energy_grad(free[k]) + dsyn[k] for k in free}

    def _layer_energies(self, free, g):
        return {
            k: self.ham.neurons[k].energy(free[k], g[k])
            if k in free
            else self.const_neuron[k]
            for k in self.ham.neurons
        }

    def energy(self, free: States) -> Scalar:
        """The total energy of the HAM at the clamped values and `free`."""
        g = self.activations(free)
        return (
            self._synaptic(g)
            + self._constant()
            + tree_sum(self._layer_energies(free, g))
        )

    def energy_and_grad(
        self, free: States, *, need_energy: bool = True
    ) -> tuple[Scalar, States]:
        r"""`(E, dE/dg)` for the free layers in one pass (the synaptic energy comes
        with its gradient). With `need_energy=False`, `E` is a placeholder 0."""
        g = self.activations(free)
        if need_energy:
            esyn, dsyn = jax.value_and_grad(self._synaptic)(g)
        else:
            esyn, dsyn = None, jax.grad(self._synaptic)(g)
        grad = self._full_grad(free, dsyn)
        if not need_energy:
            return jnp.zeros(()), grad
        E = esyn + self._constant() + tree_sum(self._layer_energies(free, g))
        return E, grad

    def energy_grad_scale(self, free: States) -> tuple[Scalar, States, Scalar]:
        """`(E, dE/dg, S)` in one pass, where `S` is the sum of the absolute values
        of the energy's terms: the magnitude float round-off in `E` is relative to.
        """
        g = self.activations(free)

        def synaptic(g):
            terms = self._synaptic_terms(g)
            return tree_sum(terms), tree_sum([jnp.abs(t) for t in terms])

        (esyn, scale), dsyn = jax.value_and_grad(synaptic, has_aux=True)(g)
        grad = self._full_grad(free, dsyn)
        layers = self._layer_energies(free, g)
        const = self._constants()
        E = esyn + tree_sum(const) + tree_sum(layers)
        scale = scale + tree_sum(jtu.tree_map(jnp.abs, (const, layers)))
        return E, grad, scale

    def _energy_scale(self, free: States, *, constants: bool = True):
        """`(E, S)` as `energy_grad_scale` sums them, without the gradient;
        `constants=False` leaves out the terms of clamped layers only (equal at
        every step, so a change of the energy never depends on them)."""
        g = self.activations(free)
        terms = self._synaptic_terms(g)
        layers = {k: self.ham.neurons[k].energy(v, g[k]) for k, v in free.items()}
        if constants:
            layers = {**self.const_neuron, **layers}
        const = self._constants() if constants else []
        E = tree_sum(terms) + tree_sum(const) + tree_sum(layers)
        return E, tree_sum(jtu.tree_map(jnp.abs, (terms, const, layers)))

    def grad(self, free: States) -> States:
        r"""$\partial E/\partial g$ for each free layer (the Legendre shortcut
        $x - I$ plus the synapses' gradients)."""
        return self.energy_and_grad(free, need_energy=False)[1]

    def components(self, free: States) -> dict:
        """Every energy term, as [`hamax.HAM.energy_tree`][] returns them."""
        g = self.activations(free)
        return {
            "neurons": self._layer_energies(free, g),
            "connections": tuple(
                fn(*(g[n] for n in names)) if names else fn for names, fn in self.terms
            ),
        }

    # ------------------------------------------------------------ dynamics
    def update(self, free: States, grad: States, dt) -> States:
        r"""One Euler step from a gradient: $x \leftarrow x - \frac{dt}{\tau}\,
        \partial E/\partial g$, element-clamped elements held."""
        new = {}
        for k, v in free.items():
            upd = v - (dt / self.ham.neurons[k].tau) * grad[k]
            new[k] = jnp.where(self.masks[k], v, upd) if k in self.masks else upd
        return new

    def step(self, free: States, dt) -> States:
        r"""One step of the dynamics, $x \leftarrow x - \frac{dt}{\tau}\,
        \partial E/\partial g$, for the free layers."""
        return self.update(free, self.grad(free), dt)

    def residual(self, free: States) -> States:
        """What is zero at a fixed point: dE/dg on free elements, the distance to
        the known value on element-clamped ones."""
        grad = self.grad(free)
        return {
            k: jnp.where(self.masks[k], free[k] - self.known[k], grad[k])
            if k in self.masks
            else grad[k]
            for k in free
        }
