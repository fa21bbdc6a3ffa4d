from collections.abc import Mapping

from ._dict_ham import DictHAM
from ._list_ham import ListHAM


def HAM(layers_or_neurons, synapses, connections, **kwargs):
    """`HAM(layers, synapses, connections)` with lists (the paper's API, a
    [`hamax.compat.ListHAM`][]) or `HAM(neurons, hypersynapses, connections)` with
    dicts (hamux 0.2, a [`hamax.compat.DictHAM`][])."""
    if isinstance(layers_or_neurons, Mapping):
        return DictHAM(layers_or_neurons, synapses, connections, **kwargs)
    return ListHAM(layers_or_neurons, synapses, connections, **kwargs)
