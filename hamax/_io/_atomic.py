"""Atomic writes: a file appears whole under its name or not at all."""

import os
import pathlib
import tempfile


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
