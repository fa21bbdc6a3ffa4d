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

    Each saved quantity takes `max_steps + 1` slots (NaN after the last step), so
    a long descent with `states=True` can take a lot of memory.
    """

    energy: bool = eqx.field(static=True, default=False)
    states: bool = eqx.field(static=True, default=False)
    components: bool = eqx.field(static=True, default=False)

    def __check_init__(self):
        for name in ("energy", "states", "components"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"Save expected `{name}` to be True or False, got "
                    f"{getattr(self, name)!r}."
                )
