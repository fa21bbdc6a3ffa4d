"""`descend`'s argument checks and its deprecated spellings."""

import math
import warnings
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp

from .._misc import suggest
from .._system_checks import as_mask
from ._adjoint import BPTT, AbstractAdjoint, Implicit, Remat
from ._monitor import Monitor
from ._save import Save
from ._stop import AbstractStop, Steps, as_steps


_DEPRECATED = ("save_energy", "save_states", "save_components", "checkpoint")


def check_dtypes(x0, where: str = "descend"):
    dtypes = {jnp.result_type(v) for v in x0.values()}
    if len(dtypes) > 1:
        raise ValueError(
            f"{where} expected every state to have one floating dtype, got "
            f"{', '.join(f'{k}: {jnp.result_type(v)}' for k, v in x0.items())}. "
            "Convert them, e.g. {k: v.astype(jnp.float32) for k, v in x0.items()}."
        )


def check_number(where: str, name: str, value, *, positive: bool = True) -> None:
    """Raise a clear ValueError unless `value` is a finite Python number, > 0 when
    `positive`, else >= 0."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value > 0 if positive else value >= 0)
    )
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(
            f"{where} expected `{name}` to be a finite number {bound}, got "
            f"{name}={value!r}."
        )


def nonfinite_x0_messages(where: str, names) -> list[str]:
    """The runtime error for a non-finite initial state, one per layer."""
    return [
        f"{where}: x0[{k!r}] contains NaN or inf; give finite initial states."
        for k in names
    ]


def stop_arg(stop, steps) -> AbstractStop:
    if (steps is None) == (stop is None):
        raise ValueError(
            "descend expected exactly one of `steps` (a fixed number of steps) or "
            "`stop` (hamax.Steps(n) or hamax.Converged(atol=1e-5, max_steps=1000)), "
            f"got steps={steps!r}, stop={stop!r}."
        )
    if stop is None:
        return Steps(as_steps(steps, "descend"))
    if not isinstance(stop, AbstractStop):
        raise ValueError(
            "descend expected `stop` to be hamax.Steps(n) or hamax.Converged(...), "
            f"got {stop!r}."
        )
    return stop


def monitor_arg(check_monotone, rtol) -> Monitor:
    if isinstance(check_monotone, Monitor):
        return check_monotone
    if not isinstance(check_monotone, bool):
        raise ValueError(
            "descend expected `check_monotone` to be True, False or a hamax.Monitor, "
            f"got {check_monotone!r}."
        )
    return Monitor(monotone=check_monotone, rtol=rtol)


def deprecated_args(adjoint, save, kwargs):
    unknown = [k for k in kwargs if k not in _DEPRECATED]
    if unknown:
        raise TypeError(
            f"descend got unexpected keyword argument(s) {unknown}."
            + suggest(
                unknown[0],
                [
                    "dt",
                    "stop",
                    "steps",
                    "clamp",
                    "adjoint",
                    "save",
                    "check_monotone",
                    "throw",
                    *_DEPRECATED,
                ],
            )
        )
    if isinstance(adjoint, str):
        if adjoint not in ("bptt", "implicit"):
            raise ValueError(
                "descend expected `adjoint` to be hamax.BPTT(), hamax.Remat() or "
                f"hamax.Implicit(), got {adjoint!r}."
            )
        warnings.warn(
            f"descend(adjoint={adjoint!r}) is deprecated; pass "
            f"adjoint=hamax.{'BPTT' if adjoint == 'bptt' else 'Implicit'}().",
            DeprecationWarning,
            stacklevel=3,
        )
        adjoint = BPTT() if adjoint == "bptt" else Implicit()
    if not isinstance(adjoint, AbstractAdjoint):
        raise ValueError(
            "descend expected `adjoint` to be hamax.BPTT(), hamax.Remat() or "
            f"hamax.Implicit(), got {adjoint!r}."
        )
    if kwargs.get("checkpoint"):
        warnings.warn(
            'descend(checkpoint=True) is deprecated ("checkpoint" now means files '
            "only); pass adjoint=hamax.Remat().",
            DeprecationWarning,
            stacklevel=3,
        )
        if isinstance(adjoint, BPTT):
            adjoint = Remat()
    flags = {
        k: kwargs[k]
        for k in ("save_energy", "save_states", "save_components")
        if k in kwargs
    }
    if flags:
        warnings.warn(
            f"descend({', '.join(f'{k}=' for k in flags)}) is deprecated; pass "
            "save=hamax.Save(energy=..., states=..., components=...).",
            DeprecationWarning,
            stacklevel=3,
        )
        save = Save(
            energy=bool(flags.get("save_energy", save.energy)),
            states=bool(flags.get("save_states", save.states)),
            components=bool(flags.get("save_components", save.components)),
        )
    if not isinstance(save, Save):
        raise ValueError(f"descend expected `save` to be a hamax.Save, got {save!r}.")
    return adjoint, save


def normalize_clamp(ham, clamp: Any, where: str = "descend"):
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
        masks[name] = as_mask(
            ham, name, mask, where, "clamp", "a bool or a boolean mask"
        )
    return tuple(whole), masks
