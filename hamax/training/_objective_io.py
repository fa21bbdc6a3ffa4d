"""Objectives as JSON (stored in checkpoints, compared on resume)."""

from typing import Any

import numpy as np

from ..dynamics import BPTT, Converged, EqProp, Implicit, Remat, Steps
from ._joint import Joint
from ._objectives import AbstractObjective, Classification, Completion


_STOPS = {"Steps": Steps, "Converged": Converged}
_ADJOINTS = {"BPTT": BPTT, "Remat": Remat, "Implicit": Implicit, "EqProp": EqProp}
_FIELDS = {
    "Steps": ("n",),
    "Converged": ("atol", "rtol", "energy_atol", "max_steps"),
    "BPTT": (),
    "Remat": ("every",),
    "Implicit": ("rtol", "fallback"),
    "EqProp": ("beta", "nudging", "nudged"),
}


def _strategy_to_json(x) -> Any:
    if x is None:
        return None
    name = type(x).__name__
    if name not in _FIELDS or (name == "Implicit" and x.linear_solver is not None):
        return {"class": name, "repr": repr(x)}
    d = {"class": name, **{f: getattr(x, f) for f in _FIELDS[name]}}
    if name == "EqProp":
        d["nudged"] = _strategy_to_json(x.nudged)
    if name == "Implicit":
        # Defaults are left out: a run saved before they existed still resumes.
        d["fallback"] = _strategy_to_json(x.fallback)
        d = {k: v for k, v in d.items() if v is not None}
    return d


def _strategy_from_json(d, table) -> Any:
    if d is None:
        return None
    cls = table.get(d.get("class"))
    if cls is None or "repr" in d:
        raise ValueError(f"cannot rebuild {d!r} from JSON")
    # Implicit's fields came in hamax 0.3; older files store none of them.
    old = cls is Implicit
    fields = {f: d[f] for f in _FIELDS[d["class"]] if not old or f in d}
    if cls is EqProp:
        fields["nudged"] = _strategy_from_json(fields["nudged"], _STOPS)
    if cls is Implicit and "fallback" in fields:
        fields["fallback"] = _strategy_from_json(fields["fallback"], _ADJOINTS)
    return cls(**fields)


def objective_to_json(obj: AbstractObjective) -> dict:
    """A JSON description of a built-in objective (others: class name and repr)."""
    if isinstance(obj, Joint):
        return {
            "class": "Joint",
            "objectives": [objective_to_json(o) for o in obj.objectives],
            "weights": list(obj.weights),
        }
    if isinstance(obj, Classification | Completion):
        d: dict[str, Any] = {"class": type(obj).__name__}
        for f in ("image", "label", "target", "given", "given_scale", "dt", "steps"):
            if hasattr(obj, f):
                v = getattr(obj, f)
                d[f] = list(v) if isinstance(v, tuple) else v
        d["stop"] = _strategy_to_json(obj.stop)
        d["adjoint"] = _strategy_to_json(obj.adjoint)
        if isinstance(obj, Completion):
            d["mask"] = (
                None if obj.mask is None else np.asarray(obj.mask).astype(int).tolist()
            )
        return d
    return {"class": type(obj).__name__, "repr": repr(obj)}


def objective_from_json(d: dict) -> AbstractObjective:
    """Rebuild a built-in objective from its description by
    [`hamax.training.objective_to_json`][].

    **Raises:** `ValueError` for an objective that is not built in.
    """
    try:
        kind = d["class"]
        if kind == "Joint":
            return Joint(
                tuple(objective_from_json(o) for o in d["objectives"]),
                tuple(d["weights"]),
            )
        common = dict(
            dt=d["dt"],
            steps=d["steps"],
            stop=_strategy_from_json(d["stop"], _STOPS),
            adjoint=_strategy_from_json(d["adjoint"], _ADJOINTS),
        )
        if kind == "Classification":
            return Classification(image=d["image"], label=d["label"], **common)
        if kind == "Completion":
            mask: Any = None if d["mask"] is None else np.asarray(d["mask"], bool)
            return Completion(
                target=d["target"],
                mask=mask,
                given=tuple(d["given"]),
                given_scale=d["given_scale"],
                **common,
            )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(
            f"Cannot rebuild the objective {d.get('class')!r} stored with this model "
            f"({type(e).__name__}: {e}); pass the objective yourself."
        ) from None
    raise ValueError(
        f"Cannot rebuild the objective {kind!r} stored with this model: only "
        "Classification, Completion and Joint are rebuilt from files; pass your "
        "objective yourself."
    )
