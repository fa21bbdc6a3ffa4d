"""hamux 0.2's `HAM(neurons, hypersynapses, connections)` constructor."""

from .._dict_ham import DictHAM


def HAM(neurons, hypersynapses, connections, *, key=None) -> DictHAM:
    """hamux 0.2's `HAM(neurons=..., hypersynapses=..., connections=...)`
    (positional or by keyword): a [`hamax.compat.DictHAM`][]."""
    return DictHAM(neurons, hypersynapses, connections, key=key)


VectorizedHAM = DictHAM
