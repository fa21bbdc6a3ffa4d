"""Fetching and verifying dataset files: stdlib only, atomic writes."""

import hashlib
import os
import pathlib
import tempfile
import urllib.error
import urllib.request


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


def _umask() -> int:
    # Read without changing it where the OS allows (os.umask sets and returns, a
    # race with other threads creating files).
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: pathlib.Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it into place,
    so a crash never leaves a half-written file under the final name.

    The file gets the permissions of a plainly created one (`0o666` less the
    umask), not the private `0o600` of a temporary file. A write killed before
    the rename leaves a `.<name>.*.tmp` file; `clean_stale_tmp` removes those.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def clean_stale_tmp(directory: str | pathlib.Path) -> list[pathlib.Path]:
    """Remove the temporary files that killed `atomic_write_bytes` calls left in
    `directory` (named `.<name>.<random>.tmp`); returns the removed paths.

    Only call it when no other process is writing there (e.g. while holding the
    run directory's lock): a live write's temporary file looks the same.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    removed = []
    for p in directory.glob(".*.tmp"):
        if p.is_file() and not p.is_symlink():
            try:
                p.unlink()
            except FileNotFoundError:  # removed meanwhile
                continue
            removed.append(p)
    return removed


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
