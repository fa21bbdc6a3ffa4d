"""Model zoo: the paper's classifiers and classic associative memories."""

from ..memory._cue import recall as recall
from ._classifiers import (
    CLASSIFIERS as CLASSIFIERS,
    ClassifierSpec as ClassifierSpec,
    make_conv_ham as make_conv_ham,
    make_conv_ham_cifar10 as make_conv_ham_cifar10,
    make_conv_ham_mnist as make_conv_ham_mnist,
    make_energy_attention_mnist as make_energy_attention_mnist,
    make_hn as make_hn,
    make_hn_cifar10 as make_hn_cifar10,
    make_hn_mnist as make_hn_mnist,
    make_hn_softmax_beta5_mnist as make_hn_softmax_beta5_mnist,
    make_hn_softmax_cifar10 as make_hn_softmax_cifar10,
    make_hn_softmax_mnist as make_hn_softmax_mnist,
)
from ._memories import (
    make_classical_hopfield as make_classical_hopfield,
    make_dense_am as make_dense_am,
    make_energy_transformer as make_energy_transformer,
)
