"""A HAM's graph: connections parsed, synapse shapes inferred, fits checked."""

from collections.abc import Iterable, Mapping, Sequence

import jax
import jax.numpy as jnp
import jax.random as jr

from .synapses._base import AbstractSynapse


Connection = tuple[tuple[str, ...], str]


def normalize_connections(connections) -> tuple[Connection, ...]:
    out = []
    if isinstance(connections, str | Mapping) or not isinstance(connections, Iterable):
        raise ValueError(
            "HAM expected `connections` to be a list of (tuple_of_layer_names, "
            f"synapse_name) pairs, got {connections!r}."
        )
    for c in connections:
        ok = isinstance(c, Sequence) and not isinstance(c, str) and len(c) == 2
        if ok:
            names, syn = c
            if isinstance(names, str):
                names = (names,)
            ok = (
                isinstance(syn, str)
                and isinstance(names, Sequence)
                and len(names) > 0
                and all(isinstance(n, str) for n in names)
            )
        if not ok:
            raise ValueError(
                f"HAM connection {c!r} is malformed: each connection is a pair "
                "(tuple_of_layer_names, synapse_name), e.g. "
                "(('image', 'label'), 'dense')."
            )
        out.append((tuple(names), syn))
    return tuple(out)


def init_synapses(synapses, conns, neurons, key, dtype):
    pending = [
        s
        for s, syn in synapses.items()
        if isinstance(syn, AbstractSynapse) and not syn.is_initialized
    ]
    used = {s for _, s in conns}
    for s in pending:
        if s not in used:
            raise ValueError(
                f"HAM synapse {s!r} has no parameters and no connection to infer "
                "their shapes from; connect it to layers or remove it."
            )
    if pending and key is None:
        raise ValueError(
            f"HAM synapse(s) {', '.join(map(repr, pending))} have no parameters yet; "
            "their shapes are inferred from the connected layers. Pass a key: "
            "HAM(neurons, synapses, connections, key=jax.random.key(0))."
        )
    if not pending:
        return synapses
    keys = dict(zip(pending, jr.split(key, len(pending))))
    for s in pending:
        names = next(n for n, syn in conns if syn == s)
        shapes = tuple(neurons[n].shape for n in names)
        try:
            synapses[s] = synapses[s].init(shapes, dtype=dtype, key=keys[s])
        except ValueError as e:
            raise ValueError(
                f"HAM could not infer the parameters of synapse {s!r} from layers "
                f"{names} with shapes {shapes}: {e}"
            ) from None
    return synapses


def check_connection(neurons, synapses, names, syn, dtype):
    dtype = jnp.zeros((), dtype).dtype if dtype is None else dtype
    args = [jax.ShapeDtypeStruct(neurons[n].shape, dtype) for n in names]
    try:
        out = jax.eval_shape(synapses[syn], *args)
    except ValueError as e:
        raise ValueError(f"HAM connection {(names, syn)!r} does not fit: {e}") from None
    except Exception as e:  # a user synapse failing in its own code
        raise ValueError(
            f"HAM connection {(names, syn)!r} failed when called on activations of "
            f"shapes {[a.shape for a in args]}: {type(e).__name__}: {e}"
        ) from None
    if not (hasattr(out, "shape") and out.shape == ()):
        raise ValueError(
            f"HAM connection {(names, syn)!r}: synapse {syn!r} must return a scalar "
            f"energy, got {getattr(out, 'shape', out)!r}. Sum it, e.g. "
            "`return -jnp.sum(...)`."
        )
