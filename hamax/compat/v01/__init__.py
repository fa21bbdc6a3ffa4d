"""treex-era HAMUX (v0.1, the paper's list API) on hamax.

Change `import hamux as hmx` to `import hamax.compat.v01 as hmx`. Here `lagr_*`
return element-wise arrays, as in v0.1; hamux 0.2's summed versions are in
[`hamax.compat.v02`](../migration.md).
"""

# Names also in v01.lagrangians, hamax.compat: re-exports are explicit (STYLE.md 3.1).
from .._layers import (
    AttentionSynapse as AttentionSynapse,
    ConvSynapse as ConvSynapse,
    ConvSynapseWithPool as ConvSynapseWithPool,
    DenseMatrixSynapseWithHiddenLayer as DenseMatrixSynapseWithHiddenLayer,
    ExpLayer as ExpLayer,
    IdentityLayer as IdentityLayer,
    LayerNormLayer as LayerNormLayer,
    ReluLayer as ReluLayer,
    RepuLayer as RepuLayer,
    RexpLayer as RexpLayer,
    SelfAttentionSynapse as SelfAttentionSynapse,
    SigmoidLayer as SigmoidLayer,
    SoftmaxLayer as SoftmaxLayer,
    TanhLayer as TanhLayer,
)
from . import lagrangians as lagrangians
from ._ham import HAM as HAM
from ._lagrangians import (
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
from ._registry import (
    create_model as create_model,
    fwd_conv as fwd_conv,
    fwd_vec as fwd_vec,
    named_partial as named_partial,
    register_model as register_model,
    simple_fwd as simple_fwd,
)
from ._treex import (
    DenseSynapse as DenseSynapse,
    Layer as Layer,
    SimpleDenseSynapse as SimpleDenseSynapse,
)
