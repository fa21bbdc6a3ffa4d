"""The seeds' APIs (the paper's list-based HAMUX and hamux 0.2's dict-based one)
as thin views over the hamax core.

One namespace per original version: `import hamax.compat.v01 as hmx` for
treex-era HAMUX (v0.1, element-wise `lagr_*`) and `import hamax.compat.v02 as
hmx` for hamux 0.2 (summed `lagr_*`). `hamax.compat` itself is kept as it was:
both HAM flavours behind one `HAM`, hamux 0.2's `lagr_*`, v0.1's layers,
synapses and `L*` Lagrangian classes.
"""

# Names also in v01, v02, hamax.lagrangians: re-exports are explicit (STYLE.md 3.1).
from ..lagrangians import (
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
from ._dict_ham import (
    BiasSynapse as BiasSynapse,
    DictHAM as DictHAM,
    HamuxBiasSynapse as HamuxBiasSynapse,
    LinearSynapse as LinearSynapse,
    NeuronLayer as NeuronLayer,
    legendre_transform as legendre_transform,
)
from ._factory import HAM as HAM
from ._layers import (
    AttentionSynapse as AttentionSynapse,
    ConvSynapse as ConvSynapse,
    ConvSynapseWithPool as ConvSynapseWithPool,
    DenseMatrixSynapseWithHiddenLayer as DenseMatrixSynapseWithHiddenLayer,
    DenseSynapse as DenseSynapse,
    ExpLayer as ExpLayer,
    IdentityLayer as IdentityLayer,
    LayerNormLayer as LayerNormLayer,
    ReluLayer as ReluLayer,
    RepuLayer as RepuLayer,
    RexpLayer as RexpLayer,
    SeedLayer as SeedLayer,
    SelfAttentionSynapse as SelfAttentionSynapse,
    SigmoidLayer as SigmoidLayer,
    SoftmaxLayer as SoftmaxLayer,
    TanhLayer as TanhLayer,
)
from ._list_ham import ListHAM as ListHAM
from .v01 import (
    Layer as Layer,
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
    SimpleDenseSynapse as SimpleDenseSynapse,
    create_model as create_model,
    register_model as register_model,
    simple_fwd as simple_fwd,
)
from .v02 import LinearSynapseWithBias as LinearSynapseWithBias
