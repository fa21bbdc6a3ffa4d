from collections.abc import Mapping

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import ArrayLike, Float

from .._ham import HAM
from ..synapses import DenseHiddenSynapse
from ._retrieve import _check_layer


def whole_layer_synapse(ham: HAM, s: str, where: str, fix: str) -> DenseHiddenSynapse:
    """The `DenseHiddenSynapse` named `s`, refused when it is per-token (its
    memories then act on one token, not on a whole layer); `fix` ends the error
    raised for `where`."""
    syn = ham.synapses[s]
    assert isinstance(syn, DenseHiddenSynapse)
    if syn.per_token:
        raise ValueError(f"{where} got synapse {s!r} with per_token=True{fix}")
    return syn


def store_patterns(
    ham: HAM,
    patterns: Mapping[str, Float[ArrayLike, "n ..."]],
    *,
    synapse: str | None = None,
) -> HAM:
    r"""Write patterns into the memories of a dense-with-hidden synapse: memory
    $m$ of each connected layer becomes `patterns[layer][m]` (flattened), for
    `m < n`; the other memories, and layers not in `patterns`, are unchanged.

    This is how a Dense Associative Memory stores data: each hidden unit holds
    one pattern. Initialising a classifier's memories with training examples
    (image and scaled one-hot label) makes every memory a digit from the start,
    so that a clamped label later recalls a sharp digit (the Figure 2 recipe in
    `docs/associative_memory.md`). The scale of the patterns is the scale of
    the recalled states; with a synapse that normalises its memories
    (`normalize=True` or `"per_layer"`) they are used at unit norm instead.

    **Arguments:**

    - `patterns`: layer name -> array `(n, *layer_shape)`, the same `n` for all.
    - `synapse`: the synapse name; default: the only `DenseHiddenSynapse`
      connected to all the layers in `patterns`.

    **Returns:** the updated HAM.
    """
    for name in patterns:
        _check_layer(ham, name, "patterns")
    found = [
        (names, s)
        for names, s in ham.connections
        if isinstance(ham.synapses[s], DenseHiddenSynapse)
        and set(patterns) <= set(names)
        and (synapse is None or s == synapse)
    ]
    if len(found) != 1:
        raise ValueError(
            f"store_patterns needs exactly one DenseHiddenSynapse connected to "
            f"{sorted(patterns)}{'' if synapse is None else f' named {synapse!r}'}, "
            f"found {len(found)}; pass synapse= the name of one."
        )
    names, s = found[0]
    syn = whole_layer_synapse(
        ham,
        s,
        "store_patterns",
        "; its memories act on one token, so store token patterns in its `Ws` "
        "directly.",
    )
    units = syn.num_heads * syn.num_hidden
    assert syn.Ws is not None  # HAM initialises every synapse
    Ws = list(syn.Ws)
    counts = set()
    for name, value in patterns.items():
        value = jnp.asarray(value)
        shape = ham.neurons[name].shape
        if value.ndim < 1 or value.shape[1:] != shape or not 0 < len(value) <= units:
            raise ValueError(
                f"store_patterns expected patterns[{name!r}] of shape (n, "
                f"{', '.join(map(str, shape))}) with 1 <= n <= {units} (the "
                f"synapse's memories), got {value.shape}."
            )
        counts.add(len(value))
        i = names.index(name)
        W = Ws[i]
        flat = W.reshape(W.shape[0], units)
        flat = flat.at[:, : len(value)].set(value.reshape(len(value), -1).T)
        Ws[i] = flat.astype(W.dtype).reshape(W.shape)
    if len(counts) > 1:
        raise ValueError(
            f"store_patterns expected the same number of patterns for every layer, "
            f"got {sorted(counts)}."
        )
    return eqx.tree_at(lambda h: h.synapses[s].Ws, ham, tuple(Ws))
