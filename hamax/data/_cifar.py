import io
import pathlib
import pickle
import tarfile

import numpy as np

from ._download import DataUnavailableError, default_root, fetch


_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
_TAR = "cifar-10-python.tar.gz"
_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"


def _parse_tar(path: pathlib.Path) -> dict[str, np.ndarray]:
    xs, ys = {}, {}
    with tarfile.open(path, "r:gz") as tar:
        for m in tar.getmembers():
            base = m.name.rsplit("/", 1)[-1]
            if base.startswith("data_batch_") or base == "test_batch":
                f = tar.extractfile(m)
                assert f is not None
                # Only unpickled after the archive's sha256 matched the canonical one.
                d = pickle.load(io.BytesIO(f.read()), encoding="bytes")
                xs[base] = (
                    np.asarray(d[b"data"], np.uint8)
                    .reshape(-1, 3, 32, 32)
                    .transpose(0, 2, 3, 1)
                )
                ys[base] = np.asarray(d[b"labels"], np.uint8)
    train = [f"data_batch_{i}" for i in range(1, 6)]
    return {
        "x_train": np.concatenate([xs[k] for k in train]),
        "y_train": np.concatenate([ys[k] for k in train]),
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
    """
    path = (
        pathlib.Path(root).expanduser()
        if root is not None
        else default_root() / "cifar10"
    )
    npz = path if path.suffix == ".npz" else path / "cifar10.npz"
    if npz.exists():
        with np.load(npz, allow_pickle=False) as f:
            missing = {"x_train", "y_train", "x_test", "y_test"} - set(f.files)
            if missing:
                raise ValueError(f"{npz} lacks arrays {sorted(missing)}.")
            out = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
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
    return _parse_tar(tar)
