import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int

from .._custom_types import States


class RESULTS(eqx.Enumeration):
    """How a descent ended. `RESULTS.successful` is the only clean success;
    `RESULTS.unstable` (the energy rose, reported without raising) is the only
    other result that `throw=True` lets through.

    Each member prints its name and what it means (`hamax.RESULTS<successful>`),
    and `hamax.RESULTS[solution.result]` is that text.
    """

    # Printed as `hamax.RESULTS<...>`, the public path, not the private module.
    __module__ = "hamax"

    successful = "successful"
    max_steps_reached = (
        "max_steps_reached: The maximum number of descent steps was reached before the "
        "stopping criterion was met. Increase max_steps, or pass throw=False and "
        "inspect solution.result."
    )
    nonfinite = (
        "nonfinite: The state or energy became non-finite (NaN or inf) during descent; "
        "reduce dt, check the inputs, or pass throw=False and read solution.failed_step"
        " and solution.failed_layer."
    )
    energy_increased = (
        "energy_increased: The energy increased during descent, which a HAM with convex"
        " Lagrangians and a small enough dt never does: reduce dt, or check that custom"
        " Lagrangians are convex and custom synapses return a scalar energy. Pass "
        "throw=False and read solution.failed_step and solution.energy_increase."
    )
    unstable = (
        "unstable: The energy rose during descent beyond round-off, so the dynamics are"
        " unstable (dt too large, or a Lagrangian that is not convex) and the final "
        "states may mean nothing: reduce dt. solution.failed_step is the first step "
        "seen to rise; pass check_monotone=True to check every step and raise."
    )


class Solution(eqx.Module):
    """The outcome of [`hamax.descend`][].

    **Fields:**

    - `states`: the final states of every layer (clamped layers included).
    - `num_steps`: the number of update steps taken.
    - `result`: a [`hamax.RESULTS`][] member; `RESULTS.successful` if all went
      well, `RESULTS.unstable` if the energy rose beyond round-off (reported, not
      raised, unless `check_monotone=True`).
    - `energy`: the total energy of the final states (None unless the energy was
      computed at every step: `Save(energy=True)`, `check_monotone` or an energy
      tolerance).
    - `energies`: the energy before each step and after the last one, shape
      `(num_saved + 1,)`; entries after `num_steps` are NaN (None unless saved).
    - `energy_components`: per-component energies along the trajectory, a tree like
      `ham.energy_tree` with a leading time axis (None unless saved).
    - `trajectory`: the states along the trajectory, leading time axis (None unless
      saved).
    - `failed_step`: the first step at which the state/energy was non-finite, else
      the first step seen whose energy rose beyond round-off (see
      [`hamax.Monitor`][]: every step, or by default the last two), else -1.
    - `failed_layer`: index into `failed_layers_order` (the free layers) of the
      first non-finite layer, else -1. Use `solution.failed_layer_name`.
    - `energy_increase`: the largest single-step energy increase seen (0 if none;
      by default only the last two steps are seen).
    """

    states: States
    num_steps: Int[Array, ""]
    result: RESULTS
    energy: Float[Array, ""] | None
    energies: Float[Array, " t"] | None
    energy_components: dict | None
    trajectory: States | None
    failed_step: Int[Array, ""]
    failed_layer: Int[Array, ""]
    energy_increase: Float[Array, ""]
    failed_layers_order: tuple[str, ...] = eqx.field(static=True)

    def __repr__(self) -> str:
        # A short summary: concrete scalars as numbers, the rest as shapes (what
        # equinox prints for an array); the full tree is `eqx.tree_pformat(sol)`.
        def short(x) -> str:
            if x is None:
                return "None"
            if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer):
                if x.ndim == 0:
                    return f"{x.item():.6g}" if x.dtype.kind == "f" else str(x.item())
            return eqx.tree_pformat(x, short_arrays=True)

        parts = [
            f"result={_result_name(self.result)}",
            f"num_steps={short(self.num_steps)}",
            f"energy={short(self.energy)}",
            f"states={short(self.states)}",
        ]
        if _result_name(self.result) not in ("successful", "?"):
            parts.append(f"failed_step={short(self.failed_step)}")
            if self._concrete_failed_layer() is not None:
                parts.append(f"failed_layer={self._concrete_failed_layer()!r}")
        return f"Solution({', '.join(parts)})"

    def _concrete_failed_layer(self) -> str | None:
        # `failed_layer_name` when the values are concrete scalars, else None.
        f = self.failed_layer
        if isinstance(f, jax.core.Tracer) or jnp.ndim(f) != 0:
            return None
        return self.failed_layer_name

    @property
    def converged(self) -> Bool[Array, ""]:
        """Whether the descent ended successfully (`RESULTS.successful`)."""
        return self.result == RESULTS.successful

    @property
    def free(self) -> States:
        """The final states of the layers that moved (the free layers): what a
        [`hamax.ClampedSystem`][] takes, e.g. to continue a descent."""
        return {k: self.states[k] for k in self.failed_layers_order}

    @property
    def failed_layer_name(self) -> str | None:
        """The name of the first layer that became non-finite (concrete values only)."""
        i = int(self.failed_layer)
        return None if i < 0 else self.failed_layers_order[i]


def _result_name(result: RESULTS) -> str:
    """A member's name for concrete scalar results; else "?" (traced or batched)."""
    v = result._value
    if isinstance(v, jax.core.Tracer) or jnp.ndim(v) != 0:
        return "?"
    names = {int(item._value): name for name, item in RESULTS._name_to_item.items()}
    return names.get(int(v), "?")
