"""hamax: Hierarchical Associative Memories in JAX."""

from . import lagrangians as lagrangians, synapses as synapses
from ._ham import HAM as HAM
from ._neurons import NeuronLayer as NeuronLayer, legendre_energy as legendre_energy


__version__ = "0.1.0"
