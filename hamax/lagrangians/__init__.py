"""Convex Lagrangians: each defines a neuron layer's activation and energy."""

# Names also in hamax.compat, compat.v02: re-exports are explicit (STYLE.md 3.1).
from ._base import AbstractLagrangian as AbstractLagrangian
from ._entmax import Entmax as Entmax, entmax as entmax, lagr_entmax as lagr_entmax
from ._exp import Exp as Exp, RExp as RExp
from ._functional import (
    lagr_exp as lagr_exp,
    lagr_ghostmax as lagr_ghostmax,
    lagr_identity as lagr_identity,
    lagr_layernorm as lagr_layernorm,
    lagr_relu as lagr_relu,
    lagr_repu as lagr_repu,
    lagr_rexp as lagr_rexp,
    lagr_sigmoid as lagr_sigmoid,
    lagr_softmax as lagr_softmax,
    lagr_spherical_norm as lagr_spherical_norm,
    lagr_tanh as lagr_tanh,
)
from ._identity import Identity as Identity
from ._learnable import (
    Learnable as Learnable,
    learnable as learnable,
    learned_values as learned_values,
)
from ._lsr import LogSumReLU as LogSumReLU
from ._norm import LayerNorm as LayerNorm, SphericalNorm as SphericalNorm
from ._repu import ReLU as ReLU, RePU as RePU
from ._sigmoid import Sigmoid as Sigmoid, Tanh as Tanh
from ._softmax import Ghostmax as Ghostmax, Softmax as Softmax, ghostmax as ghostmax
from ._sparsemax import (
    Sparsemax as Sparsemax,
    lagr_sparsemax as lagr_sparsemax,
    sparsemax as sparsemax,
)
