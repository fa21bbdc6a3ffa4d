"""Datasets (MNIST, CIFAR-10), augmentation and batching. NumPy at import; no JAX."""

from ._augment import AUGMENTATIONS as AUGMENTATIONS, Augment as Augment
from ._batches import iterate_batches as iterate_batches, num_batches as num_batches
from ._cifar import load_cifar10 as load_cifar10
from ._download import (
    ChecksumError as ChecksumError,
    DataUnavailableError as DataUnavailableError,
    default_root as default_root,
)
from ._fallback import load_mnist_fallback as load_mnist_fallback
from ._idx import read_idx as read_idx
from ._mnist import load_mnist as load_mnist
from ._mnist_source import load_mnist_or_fallback as load_mnist_or_fallback
