import io
import pathlib
import tarfile
import zlib

import numpy as np

from ._download import DataUnavailableError, default_root, fetch, read_verified
from ._npz import read_npz
from ._safe_pickle import restricted_loads


_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_TAR = "cifar-10-python.tar.gz"
_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"


_BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _parse_batch(d: object, name: str) -> tuple[np.ndarray, np.ndarray]:
    data = d.get(b"data") if isinstance(d, dict) else None
    labels = d.get(b"labels") if isinstance(d, dict) else None
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != 3 * 32 * 32
        or labels is None
        or len(labels) != len(data)
    ):
        raise ValueError(
            f"{name} is not a CIFAR-10 batch (expected a dict with b'data', a uint8 "
            "array of shape (n, 3072), and n b'labels'). Delete the archive and "
            "download it again."
        )
    x = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return x, np.asarray(labels, np.uint8)


def _parse_tar(path: pathlib.Path, archive: bytes) -> dict[str, np.ndarray]:
    xs, ys = {}, {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for m in tar.getmembers():
                base = m.name.rsplit("/", 1)[-1]
                if base not in _BATCHES:
                    continue
                f = tar.extractfile(m) if m.isfile() else None
                if f is None:
                    raise ValueError(f"{path}: member {m.name} is not a regular file.")
                # The archive's sha256 was checked before this point; the
                # restricted unpickler is a second wall: no pickle global other
                # than NumPy's array rebuilders can be loaded, so no code runs.
                d = restricted_loads(f.read(), name=f"{path}:{m.name}")
                xs[base], ys[base] = _parse_batch(d, f"{path}:{m.name}")
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise ValueError(
            f"{path} is not a readable tar.gz archive ({e}). Delete it and download "
            "it again."
        ) from None
    missing = [b for b in _BATCHES if b not in xs]
    if missing:
        raise ValueError(
            f"{path} lacks the CIFAR-10 batches {missing}. Delete it and download "
            "it again."
        )
    return {
        "x_train": np.concatenate([xs[k] for k in _BATCHES[:5]]),
        "y_train": np.concatenate([ys[k] for k in _BATCHES[:5]]),
        "x_test": xs["test_batch"],
        "y_test": ys["test_batch"],
    }


def load_cifar10(
    root: str | pathlib.Path | None = None, *, download: bool = True
) -> dict[str, np.ndarray]:
    """Load CIFAR-10 as uint8 NHWC arrays `x_train (50000, 32, 32, 3)`, `y_train`,
    `x_test (10000, 32, 32, 3)`, `y_test`.

    **Arguments:**

    - `root`: an `.npz` file with those keys, or a directory holding `cifar10.npz`
      or `cifar-10-python.tar.gz`. Defaults to the cache (`$HAMAX_DATA` or
      `~/.cache/hamax`) under `cifar10/`.
    - `download`: fetch the canonical archive (sha256 checked, atomic write).

    **Raises:** `DataUnavailableError` when the data is missing and cannot be
    downloaded; `ChecksumError` when `cifar-10-python.tar.gz` (downloaded or local)
    is not the canonical archive, before anything in it is read.
    """
    path = (
        pathlib.Path(root).expanduser()
        if root is not None
        else default_root() / "cifar10"
    )
    npz = path if path.suffix == ".npz" else path / "cifar10.npz"
    if npz.exists():
        keys = ("x_train", "y_train", "x_test", "y_test")
        out = read_npz(npz, keys)
        missing = [k for k in keys if k not in out]
        if missing:
            raise ValueError(f"{npz} lacks arrays {missing}.")
        x = out["x_train"]
        if x.shape[1:] != (32, 32, 3) or x.dtype != np.uint8:
            raise ValueError(
                f"{npz}: x_train must be (n, 32, 32, 3) uint8, got {x.shape} {x.dtype}."
            )
        return out
    if path.suffix == ".npz":
        raise DataUnavailableError(f"CIFAR-10 file {path} does not exist.")
    try:
        if download:
            tar = fetch("CIFAR-10", [_URL], path / _TAR, _SHA256)
        else:
            tar = path / _TAR
            if not tar.exists():
                raise DataUnavailableError(f"{_TAR} is not in {path}.")
    except DataUnavailableError as e:
        raise DataUnavailableError(
            f"CIFAR-10 is not available: {e}\nTo use it offline, put cifar10.npz (keys "
            f"x_train, y_train, x_test, y_test; NHWC uint8) or {_TAR} in {path}, or "
            "pass that location as `root` (CLI: --data)."
        ) from None
    # A local archive is checked exactly like a downloaded one, on the very bytes
    # that are parsed: the batches inside are pickles, so only the canonical
    # archive is ever opened.
    return _parse_tar(tar, read_verified(tar, _SHA256))
