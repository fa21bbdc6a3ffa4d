import equinox as eqx


class Save(eqx.Module):
    """What a descent records along its trajectory (the final state is always
    returned).

    **Arguments:**

    - `energy`: the total energy before each step and after the last one
      (`solution.energies`).
    - `states`: the states of every layer (`solution.trajectory`).
    - `components`: every energy term, as `ham.energy_tree` gives them
      (`solution.energy_components`).

    - `max_bytes`: the most memory the saved trajectory may take for one example;
      `descend` refuses a descent that would need more (before running it), with
      the size it would need. Default 1 GiB.

    Each saved quantity takes `max_steps + 1` slots (NaN after the last step), so
    a long descent with `states=True` can take a lot of memory.
    """

    energy: bool = eqx.field(static=True, default=False)
    states: bool = eqx.field(static=True, default=False)
    components: bool = eqx.field(static=True, default=False)
    max_bytes: int = eqx.field(static=True, default=2**30)

    def check_budget(self, steps: int, state_bytes: int, n_terms: int, itemsize: int):
        """Raise ValueError when saving `steps + 1` slots would exceed `max_bytes`."""
        per_slot = (
            itemsize * self.energy
            + state_bytes * self.states
            + itemsize * n_terms * self.components
        )
        need = per_slot * (steps + 1)
        if need > self.max_bytes:
            raise ValueError(
                f"descend would need {need / 2**20:.1f} MiB to save the trajectory "
                f"({steps + 1} slots of {per_slot} bytes), over the budget of "
                f"{self.max_bytes / 2**20:.1f} MiB: save fewer steps, save less, or "
                "raise hamax.Save(max_bytes=...)."
            )

    def __check_init__(self):
        if isinstance(self.max_bytes, bool) or not (
            isinstance(self.max_bytes, int) and self.max_bytes > 0
        ):
            raise ValueError(
                "Save expected `max_bytes` to be a positive int, got "
                f"{self.max_bytes!r}."
            )
        for name in ("energy", "states", "components"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"Save expected `{name}` to be True or False, got "
                    f"{getattr(self, name)!r}."
                )
