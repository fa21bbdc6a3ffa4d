"""A restricted unpickler for the CIFAR-10 python batches (defence in depth)."""

import io
import pickle
from typing import Any

import numpy as np


# The canonical CIFAR-10 batches are dicts of bytes, ints, lists and one uint8
# ndarray. Rebuilding an ndarray from a pickle needs exactly these three globals;
# the module of `_reconstruct` is `numpy.core.multiarray` in files written by
# NumPy 1 (the canonical ones) and `numpy._core.multiarray` in NumPy 2. They are
# resolved here to the objects of the running NumPy, never imported by name.
_RECONSTRUCT = np.empty(0).__reduce__()[0]
_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class UnsafePickleError(ValueError):
    """A pickle asked for a global that the restricted unpickler does not allow."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, *, name: str):
        super().__init__(file, encoding="bytes")
        self._name = name

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            allowed = ", ".join(sorted(f"{m}.{n}" for m, n in _ALLOWED))
            raise UnsafePickleError(
                f"{self._name} asks to load the Python object `{module}.{name}`, "
                f"which a CIFAR-10 batch never holds (allowed: {allowed}). The file "
                "is not a canonical CIFAR-10 batch and may be malicious; it was not "
                "loaded. Delete it and download the archive again."
            ) from None


def restricted_loads(data: bytes, *, name: str) -> Any:
    """Unpickle `data`, allowing only the NumPy globals that rebuild an ndarray.

    Raises `UnsafePickleError` for any other global (so no code in the pickle
    can run) and `ValueError` for a damaged pickle.
    """
    try:
        return _RestrictedUnpickler(io.BytesIO(data), name=name).load()
    except UnsafePickleError:
        raise
    except Exception as e:  # any damage: truncated stream, bad opcode, bad state
        raise ValueError(
            f"{name} is not a readable CIFAR-10 batch ({type(e).__name__}: {e}). "
            "Delete the archive and download it again."
        ) from None
