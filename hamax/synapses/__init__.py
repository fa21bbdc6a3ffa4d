"""Hypersynapses: scalar energies of the activations of connected layers."""

from ._attention import (
    AttentionSynapse as AttentionSynapse,
    SelfAttentionSynapse as SelfAttentionSynapse,
)
from ._base import AbstractSynapse as AbstractSynapse, PartialEnergy as PartialEnergy
from ._bias import BiasSynapse as BiasSynapse
from ._conv import (
    AbstractDriveSynapse as AbstractDriveSynapse,
    ConvSynapse as ConvSynapse,
)
from ._conv_pool import ConvPoolSynapse as ConvPoolSynapse
from ._dense import DenseSynapse as DenseSynapse
from ._dense_hidden import DenseHiddenSynapse as DenseHiddenSynapse
from ._euclidean import EuclideanHiddenSynapse as EuclideanHiddenSynapse
from ._nary import NaryDenseSynapse as NaryDenseSynapse
