"""v0.1 Lagrangians (`hmx.lagrangians.LExp()` in the seeds' registry)."""

# Names also in v01 and hamax.compat: re-exports are explicit (STYLE.md 3.1).
from .._lagrangians import (
    LExp as LExp,
    LIdentity as LIdentity,
    LLayerNorm as LLayerNorm,
    LRelu as LRelu,
    LRepu as LRepu,
    LRexp as LRexp,
    LSigmoid as LSigmoid,
    LSoftmax as LSoftmax,
    LSoftmaxUnstable as LSoftmaxUnstable,
    LSphericalNorm as LSphericalNorm,
    LTanh as LTanh,
    lagr_exp as lagr_exp,
    lagr_identity as lagr_identity,
    lagr_layernorm as lagr_layernorm,
    lagr_relu as lagr_relu,
    lagr_repu as lagr_repu,
    lagr_rexp as lagr_rexp,
    lagr_sigmoid as lagr_sigmoid,
    lagr_softmax as lagr_softmax,
    lagr_softmax_unstable as lagr_softmax_unstable,
    lagr_spherical_norm as lagr_spherical_norm,
    lagr_tanh as lagr_tanh,
)
