"""v0.1's `HAM(layers, synapses, connections)`: the list-based
[`hamax.compat.ListHAM`][]."""

from .._list_ham import ListHAM


HAM = ListHAM
