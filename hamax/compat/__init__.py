"""The seeds' APIs (the paper's list-based HAMUX and hamux 0.2's dict-based one)
as thin views over the hamax core. Change `import hamux as hmx` to
`import hamax.compat as hmx`."""

from ._dict_ham import (
    DictHAM as DictHAM,
    HamuxBiasSynapse as HamuxBiasSynapse,
    LinearSynapse as LinearSynapse,
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
