"""Hypersynapses: scalar energies of the activations of connected layers."""

from ._base import AbstractSynapse as AbstractSynapse
from ._dense import DenseSynapse as DenseSynapse
