"""Reading `.npz` and `.gz` files with errors that say what is wrong."""

import gzip
import io
import pathlib
import zlib

import numpy as np


def read_npz(path: pathlib.Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Those of the arrays `keys` that the `.npz` file `path` holds (the caller
    checks for missing ones), never unpickling anything.

    Every way the file can be damaged (not a zip, truncated, a member that is not
    a plain array) is one `ValueError` naming the file; NumPy's own message for a
    non-zip file suggests `allow_pickle=True`, which would be unsafe advice here.
    """
    # The file is opened here, not by np.load, which leaks it when the zip is bad.
    with open(path, "rb") as fh:
        magic = fh.read(4)
        if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise ValueError(
                f"{path} is not an .npz file (it does not start with the zip "
                f"signature, found {magic!r}). Save the arrays with numpy.savez, or "
                "delete the file and download the data again."
            )
        fh.seek(0)
        try:
            with np.load(fh, allow_pickle=False) as f:
                return {k: f[k] for k in keys if k in f.files}
        except Exception as e:  # BadZipFile, CRC errors, object arrays, truncation
            raise ValueError(
                f"{path} is damaged or holds something other than plain arrays "
                f"({type(e).__name__}). hamax never unpickles data files; rewrite it "
                "with numpy.savez from plain numeric arrays, or delete it and download "
                "the data again."
            ) from None


def gunzip(data: bytes, name: str, max_size: int) -> bytes:
    """Decompress gzip `data`, with a clear error for a truncated or damaged file
    and for one that expands beyond `max_size` bytes (a "gzip bomb")."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(max_size + 1)
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(
            f"{name} is truncated or is not a valid gzip file ({e}). Delete it and "
            "download it again."
        ) from None
    if len(out) > max_size:
        raise ValueError(
            f"{name} decompresses to more than {max_size} bytes, more than the "
            "dataset file can hold; it is not the canonical file. Delete it and "
            "download it again."
        )
    return out
