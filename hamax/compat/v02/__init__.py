"""hamux 0.2 (the dict API) on hamax.

Change `import hamux as hmx` to `import hamax.compat.v02 as hmx`. Here `lagr_*`
return the summed scalar, as in hamux 0.2; v0.1's element-wise versions are in
`hamax.compat.v01`.
"""

# Names also in hamax.compat, hamax.lagrangians: re-exports are explicit (STYLE.md 3.1).
from ...lagrangians import (
    ghostmax as ghostmax,
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
from .._dict_ham import (
    BiasSynapse as BiasSynapse,
    LinearSynapse as LinearSynapse,
    NeuronLayer as NeuronLayer,
    legendre_transform as legendre_transform,
)
from ._ham import HAM as HAM, VectorizedHAM as VectorizedHAM
from ._synapses import (
    ConvSynapse as ConvSynapse,
    LinearSynapseWithBias as LinearSynapseWithBias,
)
