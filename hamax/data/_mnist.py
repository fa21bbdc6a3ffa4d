import pathlib

import numpy as np

from ._download import DataUnavailableError, default_root, fetch, read_verified
from ._idx import read_idx
from ._npz import gunzip, read_npz


_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
# sha256 of the canonical gzip files. For train-images the published hash is of
# the uncompressed IDX file, so that one is checked after decompression.
_FILES = {
    "x_train": (
        "train-images-idx3-ubyte.gz",
        None,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "y_train": (
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        None,
    ),
    "x_test": (
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        None,
    ),
    "y_test": (
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        None,
    ),
}
# The largest canonical IDX file (train-images) is 47,040,016 bytes uncompressed.
_MAX_IDX_BYTES = 1 << 26
_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}


def _check_arrays(arrays: dict, source) -> dict:
    for k, shape in _SHAPES.items():
        if k not in arrays:
            raise ValueError(
                f"{source} has no array {k!r}; expected keys {list(_SHAPES)}."
            )
        a = arrays[k]
        if a.shape[1:] != shape[1:] or a.dtype != np.uint8:
            raise ValueError(
                f"{source}: {k} has shape {a.shape} and dtype {a.dtype}, expected "
                f"(n, {', '.join(map(str, shape[1:]))}) uint8."
            )
    return {k: arrays[k] for k in _SHAPES}


def _from_idx_dir(root: pathlib.Path, download: bool) -> dict:
    out = {}
    for key, (fname, gz_sha, raw_sha) in _FILES.items():
        raw = root / fname[:-3]
        if raw.exists():
            data = raw.read_bytes()
        else:
            if download:
                path = fetch(
                    f"MNIST {fname}",
                    [m + fname for m in _MIRRORS],
                    root / fname,
                    gz_sha,
                )
            else:
                path = root / fname
                if not path.exists():
                    raise DataUnavailableError(f"MNIST file {fname} is not in {root}.")
            gz = read_verified(path, gz_sha) if gz_sha else path.read_bytes()
            data = gunzip(gz, str(path), _MAX_IDX_BYTES)
        out[key] = read_idx(data, expected_sha256=raw_sha, name=fname)
    return out


def load_mnist(
    root: str | pathlib.Path | None = None, *, download: bool = True
) -> dict[str, np.ndarray]:
    """Load MNIST as uint8 NumPy arrays `x_train (60000, 28, 28)`, `y_train`,
    `x_test (10000, 28, 28)`, `y_test`.

    **Arguments:**

    - `root`: an `.npz` file with those four keys, or a directory holding
      `mnist.npz` or the four IDX files (`.gz` or uncompressed). Defaults to the
      cache, `$HAMAX_DATA` or `~/.cache/hamax`, under `mnist/`.
    - `download`: fetch missing IDX files from the canonical mirrors (sha256
      checked, written atomically).

    **Raises:** `DataUnavailableError` naming the files to place and where, when
    they are missing and cannot be downloaded; `ChecksumError` for a corrupt file.
    """
    path = (
        pathlib.Path(root).expanduser()
        if root is not None
        else default_root() / "mnist"
    )
    if path.suffix == ".npz":
        if not path.exists():
            raise DataUnavailableError(f"MNIST file {path} does not exist.")
        return _check_arrays(read_npz(path, tuple(_SHAPES)), path)
    if (path / "mnist.npz").exists():
        npz = path / "mnist.npz"
        return _check_arrays(read_npz(npz, tuple(_SHAPES)), npz)
    try:
        return _from_idx_dir(path, download)
    except DataUnavailableError as e:
        names = ", ".join(f[0] for f in _FILES.values())
        raise DataUnavailableError(
            f"MNIST is not available: {e}\nTo use it offline, put mnist.npz (keys "
            f"x_train, y_train, x_test, y_test) or the IDX files ({names}) in {path}, "
            "or pass that location as `root` (CLI: --data)."
        ) from None
