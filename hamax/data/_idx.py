import hashlib
from typing import Any

import numpy as np

from ._download import ChecksumError


_DTYPES: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(
    data: bytes, *, expected_sha256: str | None = None, name: str = "IDX data"
) -> np.ndarray:
    """Parse the IDX format of LeCun's MNIST files into a NumPy array."""
    if expected_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != expected_sha256:
            raise ChecksumError(
                f"{name}: sha256 {got} does not match the canonical {expected_sha256}; "
                "the file is corrupt. Delete it and download again."
            )
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise ValueError(f"{name} is not an IDX file (bad magic number {data[:4]!r}).")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name} is truncated: the header needs {header} bytes.")
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = np.dtype(_DTYPES[data[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != need:
        raise ValueError(
            f"{name} is truncated or padded: shape {shape} needs {need} bytes of data, "
            f"found {len(data) - header}."
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )
