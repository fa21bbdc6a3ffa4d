import contextlib
import datetime
import json
import os
import pathlib
import socket
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._io._atomic import atomic_write_bytes, clean_stale_tmp


try:
    import fcntl
except ImportError:  # Windows: fall back to checking the holder's pid
    fcntl = None  # type: ignore[assignment]


class RunLockedError(RuntimeError):
    """Another live process holds the lock of a run directory."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunDir:
    """A run directory: the one place a training run writes, under a lock.

    While a run holds the lock, a second run on the same directory is refused
    with `RunLockedError` naming the holder's pid, host and start time (so no
    model is silently overwritten). A lock left by a killed run is detected and
    taken over with a warning. Acquiring also checks that the directory is
    writable and removes temporary files left by writes that were killed.

    It is also how [`hamax.training.train`][] is told where and how to write
    (its `run` argument).

    **Arguments:**

    - `path`: the directory (created when needed).
    - `resume`: for `train`: continue the checkpoint in the directory if there
      is one (else start over).
    - `force_resume`: for `train`: resume even when the saved settings differ
      from the given ones (otherwise refused, listing the differences).
    - `checkpoint_every`: for `train`: also checkpoint every this many batches
      (a run killed mid-epoch resumes at the next batch with identical
      results); None: at the end of each epoch only.
    - `meta`: for `train`: extra JSON metadata stored in the checkpoints.

    !!! example

        ```python
        run = RunDir("runs/hn")
        with run.lock():
            run.check_settings(run.read_settings() or settings, settings, force=False)
            run.write_settings(settings)
            ...  # train, writing run.checkpoint and run.metrics_json
        ```
    """

    def __init__(
        self,
        path: str | pathlib.Path,
        *,
        resume: bool = True,
        force_resume: bool = False,
        checkpoint_every: int | None = None,
        meta: dict | None = None,
    ):
        if not isinstance(path, str | os.PathLike):
            raise TypeError(
                f"RunDir expected `path` to be a str or a path, got {path!r}."
            )
        for name, v in (("resume", resume), ("force_resume", force_resume)):
            if not isinstance(v, bool):
                raise TypeError(f"RunDir expected `{name}` to be a bool, got {v!r}.")
        c = checkpoint_every
        if c is not None and (
            isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 1
        ):
            raise ValueError(
                "RunDir expected `checkpoint_every` to be an int >= 1 or None, got "
                f"{c!r}."
            )
        if meta is not None and not isinstance(meta, dict):
            raise TypeError(
                f"RunDir expected `meta` to be a dict or None, got {meta!r}."
            )
        self.path = pathlib.Path(path).expanduser()
        self.resume, self.force_resume = resume, force_resume
        self.checkpoint_every, self.meta = checkpoint_every, dict(meta or {})
        self._fd: int | None = None

    def __repr__(self) -> str:
        return (
            f"RunDir({str(self.path)!r}, resume={self.resume}, force_resume="
            f"{self.force_resume}, checkpoint_every={self.checkpoint_every}, "
            f"meta={self.meta})"
        )

    # One documented property per file of the run (same shape each): a table of
    # names would hide them from the API docs and from type checkers.
    @property
    def checkpoint(self) -> pathlib.Path:
        """`checkpoint.eqx` in the directory."""
        return self.path / "checkpoint.eqx"

    @property
    def metrics_json(self) -> pathlib.Path:
        """`metrics.json` in the directory."""
        return self.path / "metrics.json"

    @property
    def metrics_csv(self) -> pathlib.Path:
        """`metrics.csv` in the directory."""
        return self.path / "metrics.csv"

    @property
    def settings(self) -> pathlib.Path:
        """`settings.json` in the directory: the settings the run was started with."""
        return self.path / "settings.json"

    @property
    def lock_file(self) -> pathlib.Path:
        """`run.lock` in the directory: pid, host and start time of the holder."""
        return self.path / "run.lock"

    @property
    def locked(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def check_writable(self) -> None:
        """Create the directory if needed and check that files can be written in it.

        **Raises:** `PermissionError` naming the path, before any work is done.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.path):
                pass
        except OSError as e:
            raise PermissionError(
                f"Run directory {self.path} is not writable ({e.strerror or e}). "
                "Choose another output directory (CLI: --out) or fix its "
                "permissions; nothing was trained."
            ) from None

    def acquire(self) -> list[pathlib.Path]:
        """Take the lock (see the class docstring); returns the stale temporary
        files that were removed.

        **Raises:** `RunLockedError` when another live process holds it;
        `PermissionError` when the directory is not writable.
        """
        if self._fd is not None:
            raise RuntimeError(
                f"RunDir({str(self.path)!r}) already holds its lock; release() it "
                "before acquiring it again."
            )
        self.check_writable()
        for _ in range(10):
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                if self._try_lock(fd):
                    break
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the file was replaced while we locked it: retry
        else:  # pragma: no cover - needs a pathological race
            raise RunLockedError(f"Could not lock {self.lock_file}; try again.")
        self._fd = fd
        return clean_stale_tmp(self.path)

    def _try_lock(self, fd: int) -> bool:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._locked_error(self._holder()) from None
            # A releasing holder unlinks the file; a lock on that old inode is void.
            try:
                if os.fstat(fd).st_ino != os.stat(self.lock_file).st_ino:
                    return False
            except FileNotFoundError:
                return False
        holder = self._holder()
        if holder is not None and holder.get("pid") != os.getpid():
            here = holder.get("hostname") == socket.gethostname()
            pid = holder.get("pid")
            if fcntl is None and (not here or (type(pid) is int and _pid_alive(pid))):
                raise self._locked_error(holder)
            warnings.warn(
                f"Run directory {self.path}: taking over the stale lock of process "
                f"{pid} on {holder.get('hostname')} (started "
                f"{holder.get('started')}), which is no longer running; it was "
                "probably killed. Its last checkpoint is resumed from.",
                stacklevel=3,
            )
        info = {
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "started": datetime.datetime.now().astimezone().isoformat(),
        }
        data = json.dumps(info).encode() + b"\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        return True

    def _holder(self) -> dict | None:
        try:
            info = json.loads(self.lock_file.read_bytes())
        except (OSError, ValueError):
            return None
        return info if isinstance(info, dict) else None

    def _locked_error(self, holder: dict | None) -> RunLockedError:
        h = holder or {}
        return RunLockedError(
            f"Run directory {self.path} is in use by process {h.get('pid', '?')} on "
            f"{h.get('hostname', '?')}, started {h.get('started', '?')} (lock file "
            f"{self.lock_file}). Wait for that run to finish or stop it, or use "
            "another output directory (CLI: --out). If you are sure no run is "
            f"active, delete {self.lock_file}."
        )

    def release(self) -> None:
        """Release the lock (removing the lock file); a no-op when not held."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Unlink while still locked, so no one locks the old file meanwhile
            # without noticing (acquirers compare inodes).
            self.lock_file.unlink(missing_ok=True)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def lock(self) -> Iterator["RunDir"]:
        """`with run.lock():` holds the lock for the block (see `acquire`)."""
        self.acquire()
        try:
            yield self
        finally:
            self.release()

    def read_settings(self) -> dict | None:
        """The settings saved by `write_settings`, or None when there are none."""
        if not self.settings.exists():
            return None
        try:
            saved = json.loads(self.settings.read_bytes())
        except ValueError:
            saved = None
        if not isinstance(saved, dict):
            raise ValueError(
                f"{self.settings} is damaged (not a JSON object). Delete it to start "
                "the run over, or use another output directory."
            )
        return saved

    def write_settings(self, settings: dict[str, Any]) -> None:
        """Save `settings` (JSON-serialisable) to `settings.json`, atomically."""
        text = json.dumps(settings, indent=1, sort_keys=True)
        atomic_write_bytes(self.settings, text.encode())

    def check_settings(
        self, saved: dict[str, Any], given: dict[str, Any], force: bool = False
    ) -> list[str]:
        """Compare the settings a run was started with to those of a resume.

        Returns the differences as `"name: saved -> given"` lines.

        **Raises:** `ValueError` listing every difference, unless `force`.
        """
        unset = "<unset>"

        def same(k):  # compared as saved (JSON): (1, 2) equals [1, 2]; key order
            # in a nested dict does not matter.
            a, b = (
                json.dumps(d.get(k, unset), default=repr, sort_keys=True)
                for d in (saved, given)
            )
            return a == b

        diff = [
            f"{k}: {saved.get(k, unset)!r} -> {given.get(k, unset)!r}"
            for k in sorted(set(saved) | set(given), key=str)
            if not same(k)
        ]
        if diff and not force:
            raise ValueError(
                f"Run directory {self.path} was started with other settings; "
                f"resuming would mix them:\n  " + "\n  ".join(diff) + "\nResume "
                "with the saved settings, use another output directory (CLI: "
                "--out), or force the resume (CLI: --force-resume)."
            )
        return diff
