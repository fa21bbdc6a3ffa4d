"""The paper's classifiers (Table 1), with the depth and step size of its code."""

import dataclasses
from collections.abc import Callable

import jax.numpy as jnp
from jaxtyping import PRNGKeyArray

from .._ham import HAM
from .._neurons import NeuronLayer
from ..lagrangians import ReLU, Softmax, Tanh, learnable
from ..synapses import (
    AttentionSynapse,
    ConvPoolSynapse,
    ConvSynapse,
    DenseHiddenSynapse,
    SelfAttentionSynapse,
)


@dataclasses.dataclass(frozen=True)
class ClassifierSpec:
    """How a zoo classifier is built and run (classification is association).

    **Fields:**

    - `make`: `make(*, key, dtype=None) -> HAM`.
    - `dataset`: `"mnist"` or `"cifar10"`.
    - `steps`, `dt`: the descent used for classification.
    - `image`, `label`: names of the clamped input layer and the read-out layer.
    """

    make: Callable[..., HAM]
    dataset: str
    steps: int
    dt: float
    image: str = "image"
    label: str = "label"


def make_hn(
    image_shape: tuple[int, ...],
    *,
    num_hidden: int = 1000,
    hidden: Callable | None = None,
    normalize: bool | str = False,
    num_labels: int = 10,
    trainable_betas: bool = False,
    init_std: float | None = None,
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    r"""The paper's two-layer HN: a tanh image, a softmax label, joined by a dense
    synapse with an integrated hidden layer (`hidden` Lagrangian, ReLU default).

    $E = E_\text{image} + E_\text{label} - L_h(W_\text{img} g_\text{img} +
    W_\text{lab} g_\text{lab})$.

    With `trainable_betas`, the inverse temperatures of the image's tanh and the
    label's softmax start at 1 and are trained ([`hamax.learnable`][], kept at or
    above the paper's `min_beta`), as every `beta` is in the paper's code; a
    tempered `hidden` Lagrangian keeps whatever `beta` it was given (pass
    `Softmax(beta=hamax.learnable(1.0))` to train it too). `init_std` is the
    standard deviation of the initial memories (the synapse's default if None).
    """

    def beta():  # one parameter per layer (not one leaf shared by two layers)
        return learnable(1.0, dtype=dtype) if trainable_betas else 1.0

    neurons = {
        "image": NeuronLayer(Tanh(beta()), image_shape),
        "label": NeuronLayer(Softmax(beta()), num_labels),
    }
    synapses = {
        "memories": DenseHiddenSynapse(
            num_hidden,
            ReLU() if hidden is None else hidden,
            normalize=normalize,
            init_std=init_std,
        )
    }
    return HAM(
        neurons, synapses, [(("image", "label"), "memories")], key=key, dtype=dtype
    )


def make_conv_ham(
    image_shape: tuple[int, int, int],
    conv1_shape: tuple[int, int, int],
    conv2_shape: tuple[int, int, int],
    *,
    pool: str = "max",
    num_hidden: int = 1000,
    num_labels: int = 10,
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    """The paper's Conv HAM: image -> conv+pool -> conv+pool -> dense hidden -> label.

    The first synapse is a 4x4 convolution (stride 2, padding 2), the second a 3x3
    one (no padding), each followed by 2x2 pooling, as in the original code.
    """
    neurons = {
        "image": NeuronLayer(Tanh(), image_shape),
        "conv1": NeuronLayer(Tanh(), conv1_shape),
        "conv2": NeuronLayer(Tanh(), conv2_shape),
        "label": NeuronLayer(Softmax(), num_labels),
    }
    synapses = {
        "s1": ConvPoolSynapse((4, 4), 2, 2, pool=pool),
        "s2": ConvPoolSynapse((3, 3), 1, 0, pool=pool),
        "s3": DenseHiddenSynapse(num_hidden, ReLU()),
    }
    connections = [
        (("image", "conv1"), "s1"),
        (("conv1", "conv2"), "s2"),
        (("conv2", "label"), "s3"),
    ]
    return HAM(neurons, synapses, connections, key=key, dtype=dtype)


def make_hn_mnist(*, num_hidden: int = 1000, key: PRNGKeyArray, dtype=None) -> HAM:
    """HN (ReLU) on flattened MNIST (0.79M parameters, Table 1)."""
    return make_hn((784,), num_hidden=num_hidden, key=key, dtype=dtype)


# The paper's code (HAMUX v0.1 `DenseMatrixSynapseWithHiddenLayer`) draws its
# memories from a normal distribution of standard deviation 0.02.
_PAPER_INIT_STD = 0.02


def _paper_softmax_hn(image_shape, num_hidden, layer_betas, key, dtype) -> HAM:
    return make_hn(
        image_shape,
        num_hidden=num_hidden,
        hidden=Softmax(learnable(1.0, dtype=dtype)),
        normalize="per_layer",
        trainable_betas=layer_betas,
        init_std=_PAPER_INIT_STD,
        key=key,
        dtype=dtype,
    )


def make_hn_softmax_mnist(
    *,
    num_hidden: int = 1000,
    layer_betas: bool = True,
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    """HN (SoftMax) on flattened MNIST, as the paper's code builds it: a softmax
    hidden layer over memories of unit norm in each layer, and every inverse
    temperature (image, label, hidden) trained from 1 (Table 1, Figure 2).
    `layer_betas=False` trains the hidden layer's beta only (the image's tanh
    and the label's softmax keep beta = 1).

    The trainer reports the learned values per epoch (`learned.*` metrics).
    [`hamax.zoo.make_hn_softmax_beta5_mnist`][] is the earlier model with the
    hidden `beta` fixed at 5.
    """
    return _paper_softmax_hn((784,), num_hidden, layer_betas, key, dtype)


def make_hn_softmax_beta5_mnist(
    *,
    num_hidden: int = 1000,
    beta: float = 5.0,
    normalize: bool | str = "per_layer",
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    """HN (SoftMax) with a fixed hidden inverse temperature `beta` (default 5)
    over memories normalised per layer, and fixed image and label betas: not the
    paper's model (whose betas are trained; see
    [`hamax.zoo.make_hn_softmax_mnist`][]), kept because its Table 1 row was
    measured (docs/reproduction.md).

    With memories of unit norm over image and label together (`normalize=True`)
    the label's share of each memory is tiny and 20 epochs reach only 88% test
    accuracy.
    """
    return make_hn(
        (784,),
        num_hidden=num_hidden,
        hidden=Softmax(beta),
        normalize=normalize,
        key=key,
        dtype=dtype,
    )


def make_conv_ham_mnist(*, pool: str = "max", key: PRNGKeyArray, dtype=None) -> HAM:
    """Conv HAM (max pool) on MNIST (0.60M parameters, Table 1)."""
    return make_conv_ham(
        (28, 28, 1), (7, 7, 64), (2, 2, 128), pool=pool, key=key, dtype=dtype
    )


def make_hn_cifar10(*, num_hidden: int = 6000, key: PRNGKeyArray, dtype=None) -> HAM:
    """HN (ReLU) on flattened CIFAR-10."""
    return make_hn((3072,), num_hidden=num_hidden, key=key, dtype=dtype)


def make_hn_softmax_cifar10(
    *,
    num_hidden: int = 6000,
    layer_betas: bool = True,
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    """HN (SoftMax) on flattened CIFAR-10, as the paper's code builds it (see
    [`hamax.zoo.make_hn_softmax_mnist`][]): memories of unit norm per layer, every
    beta trained from 1."""
    return _paper_softmax_hn((3072,), num_hidden, layer_betas, key, dtype)


def make_conv_ham_cifar10(*, pool: str = "max", key: PRNGKeyArray, dtype=None) -> HAM:
    """Conv HAM (max pool) on CIFAR-10."""
    return make_conv_ham(
        (32, 32, 3), (8, 8, 90), (3, 3, 180), pool=pool, key=key, dtype=dtype
    )


# Zoo builders end alike, `*, <hyperparameters>, key, dtype=None) -> HAM` (STYLE 3.3).
def make_energy_attention_mnist(
    *,
    tokens: tuple[int, int, int] = (7, 7, 128),
    cross_heads: int = 2,
    self_heads: int = 4,
    head_dim: int = 64,
    key: PRNGKeyArray,
    dtype=None,
) -> HAM:
    """The "attention and convolutions" HAM of the original HAMUX examples.

    A 4x4 stride-4 convolution turns the image into a grid of tokens (a tanh layer
    with a learnable resting state); the label attends to the tokens
    (cross-attention) and the tokens attend to each other (self-attention).
    """
    neurons = {
        "image": NeuronLayer(Tanh(), (28, 28, 1)),
        "tokens": NeuronLayer(Tanh(), tokens, bias=jnp.zeros(tokens, dtype)),
        "label": NeuronLayer(Softmax(), 10),
    }
    synapses = {
        "patches": ConvSynapse((4, 4), 4, 0),
        "cross": AttentionSynapse(cross_heads, head_dim),
        "self": SelfAttentionSynapse(self_heads, head_dim),
    }
    connections = [
        (("image", "tokens"), "patches"),
        (("label", "tokens"), "cross"),
        (("tokens",), "self"),
    ]
    return HAM(neurons, synapses, connections, key=key, dtype=dtype)


CLASSIFIERS: dict[str, ClassifierSpec] = {
    "hn_relu_mnist": ClassifierSpec(make_hn_mnist, "mnist", steps=4, dt=0.4),
    "hn_softmax_mnist": ClassifierSpec(make_hn_softmax_mnist, "mnist", steps=4, dt=0.4),
    "hn_softmax_beta5_mnist": ClassifierSpec(
        make_hn_softmax_beta5_mnist, "mnist", steps=4, dt=0.4
    ),
    "conv_ham_mnist": ClassifierSpec(make_conv_ham_mnist, "mnist", steps=7, dt=0.3),
    "energy_attention_mnist": ClassifierSpec(
        make_energy_attention_mnist, "mnist", steps=5, dt=0.4
    ),
    "hn_relu_cifar10": ClassifierSpec(make_hn_cifar10, "cifar10", steps=4, dt=0.4),
    "hn_softmax_cifar10": ClassifierSpec(
        make_hn_softmax_cifar10, "cifar10", steps=4, dt=0.4
    ),
    "conv_ham_cifar10": ClassifierSpec(
        make_conv_ham_cifar10, "cifar10", steps=7, dt=0.3
    ),
}
