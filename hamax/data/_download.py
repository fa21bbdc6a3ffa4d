"""Fetching and verifying dataset files: stdlib only, atomic writes."""

import hashlib
import os
import pathlib
import urllib.error
import urllib.request

from .._io._atomic import atomic_write_bytes


class DataUnavailableError(FileNotFoundError):
    """A dataset is neither cached nor downloadable (e.g. offline)."""


class ChecksumError(ValueError):
    """A dataset file does not have the expected sha256."""


def default_root() -> pathlib.Path:
    """The cache directory: `$HAMAX_DATA`, else `~/.cache/hamax`."""
    env = os.environ.get("HAMAX_DATA")
    if env:
        return pathlib.Path(env).expanduser()
    return pathlib.Path.home() / ".cache" / "hamax"


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(path: pathlib.Path, got: str, sha256: str) -> ChecksumError:
    return ChecksumError(
        f"{path} has sha256 {got}, expected {sha256}: the file is corrupt or not "
        f"the canonical one. Delete it and download again."
    )


def verify(path: pathlib.Path, sha256: str | None) -> None:
    """Raise `ChecksumError` (naming the file, expected and found hash) unless the
    file at `path` has the given sha256 (`None`: no check)."""
    if sha256 is None:
        return
    got = sha256_file(path)
    if got != sha256:
        raise _mismatch(path, got, sha256)


def read_verified(path: pathlib.Path, sha256: str) -> bytes:
    """The bytes of `path`, read once and checked against `sha256`.

    Parsing these bytes (not the file again) leaves no window in which the file
    could be swapped between the check and the parse.
    """
    data = path.read_bytes()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise _mismatch(path, got, sha256)
    return data


def fetch(
    name: str,
    urls: list[str],
    dest: pathlib.Path,
    sha256: str | None,
    timeout: float = 20.0,
) -> pathlib.Path:
    """Return `dest`, downloading it from the first working URL if absent."""
    if dest.exists():
        verify(dest, sha256)
        return dest
    errors = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                data = r.read()
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            errors.append(f"{url}: {e}")
            continue
        got = hashlib.sha256(data).hexdigest()
        if sha256 is not None and got != sha256:
            errors.append(f"{url}: sha256 {got} != expected {sha256}")
            continue
        atomic_write_bytes(dest, data)
        return dest
    raise DataUnavailableError(
        f"Could not download {name} (no network?). Tried:\n  "
        + "\n  ".join(errors)
        + f"\nPlace the file at {dest} (or pass a directory holding it), or set "
        "HAMAX_DATA to a directory that has it."
    )
