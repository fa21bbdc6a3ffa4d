"""Multi-process training: launch on `jax.distributed`, one writer, agreed resume."""

import hashlib
import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any, NoReturn

import jax
import numpy as np
from jax.experimental import multihost_utils

from .._io._checkpoint import read_meta


# What each argument is called by the Python API, the CLI and JAX's environment.
_SOURCES = {
    "coordinator_address": ("--coordinator-address", "JAX_COORDINATOR_ADDRESS"),
    "num_processes": ("--num-processes", "JAX_NUM_PROCESSES"),
    "process_id": ("--process-id", "JAX_PROCESS_ID"),
}


def _from_env(name: str, environ: Mapping[str, str]) -> Any:
    var = _SOURCES[name][1]
    text = environ.get(var, "").strip()
    if not text or name == "coordinator_address":
        return text or None
    try:
        return int(text)
    except ValueError:
        raise ValueError(
            f"initialize_distributed: {var}={text!r} is not a whole number. Set it "
            f"to the {name.replace('_', ' ')} (e.g. {var}=2), or unset it."
        ) from None


def resolve_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The coordinator address, process count and process id to launch with:
    each from its argument, else from `JAX_COORDINATOR_ADDRESS`,
    `JAX_NUM_PROCESSES`, `JAX_PROCESS_ID`, else None (left to
    `jax.distributed.initialize()` to detect under SLURM, Open MPI or Cloud TPU).

    **Returns:** a dict with those three keys and `"source"`, which says where
    each value came from (`"argument"`, the variable's name, or `"unset"`).

    **Raises:** `ValueError` for a malformed variable, a count below 1, or an
    id outside `0 .. num_processes - 1`.
    """
    env = os.environ if environ is None else environ
    given = dict(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
    )
    out: dict[str, Any] = {"source": {}}
    for name, value in given.items():
        source = "argument"
        if value is None:
            value = _from_env(name, env)
            source = _SOURCES[name][1] if value is not None else "unset"
        out[name], out["source"][name] = value, source
    n, i = out["num_processes"], out["process_id"]
    if n is not None and (type(n) is not int or n < 1):
        raise ValueError(
            f"initialize_distributed: `num_processes` must be a whole number >= 1 "
            f"(from {out['source']['num_processes']}); got {n!r}."
        )
    if i is not None and (type(i) is not int or not 0 <= i < (n or i + 1)):
        raise ValueError(
            f"initialize_distributed: `process_id` must be a whole number in 0 .. "
            f"num_processes - 1 (from {out['source']['process_id']}); got {i!r}"
            + (f" with num_processes={n}." if n is not None else ".")
        )
    return out


# Over 80 lines: most of it is the docstring (each launch value and where it
# comes from); the body resolves them, then calls jax.distributed once.
def initialize_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    initialization_timeout: int = 300,
    heartbeat_timeout: int = 100,
) -> tuple[int, int]:
    """Join a multi-process (multi-host) run: `jax.distributed.initialize` with
    the launch values found by [`hamax.training.resolve_distributed`][].

    Call it once per process, before any other JAX work. Every process must then
    run the same training with the same arguments and data: batches are split
    over every process's devices, process 0 alone writes the run directory, and
    at the start all processes check that they resume from the same checkpoint.

    **Arguments:**

    - `coordinator_address`: `host:port` of process 0 (default:
      `JAX_COORDINATOR_ADDRESS`, else detected).
    - `num_processes`: how many processes (default: `JAX_NUM_PROCESSES`, else
      detected); `process_id`: this one's, `0 .. num_processes - 1` (default:
      `JAX_PROCESS_ID`, else detected).
    - `initialization_timeout`: seconds to wait for every process to join.
    - `heartbeat_timeout`: seconds after which a silent process is declared dead
      and the others stop with an error instead of waiting forever.

    **Returns:** `(process_id, num_processes)`. When JAX's distributed runtime
    is already initialized nothing is done and the current values are returned.

    **Raises:** `ValueError` naming the values that are missing and where they
    were looked for (arguments, CLI flags, variables, cluster detection).

    !!! example

        ```python
        # on each of two hosts, with its own process id:
        hamax.training.initialize_distributed("host0:1234", 2, process_id)
        run = hamax.training.RunDir("/shared/run")
        hamax.training.train(ham, objective, data, epochs=10, run=run)
        ```
    """
    for name, t in (("initialization_timeout", initialization_timeout),) + (
        ("heartbeat_timeout", heartbeat_timeout),
    ):
        if type(t) is not int or t < 1:
            raise ValueError(
                f"initialize_distributed: `{name}` must be a whole number of "
                f"seconds >= 1; got {t!r}."
            )
    if jax.distributed.is_initialized():
        return jax.process_index(), jax.process_count()
    found = resolve_distributed(coordinator_address, num_processes, process_id)
    src = found.pop("source")
    try:
        jax.distributed.initialize(
            **found,
            initialization_timeout=initialization_timeout,
            heartbeat_timeout_seconds=heartbeat_timeout,
        )
    except (ValueError, RuntimeError) as e:
        # JAX's "... must be defined" when detection finds nothing; and, with
        # values missing, its "must be called before any JAX calls" when JAX is
        # already in use (detection never ran): either way, name what is missing.
        if isinstance(e, ValueError) and "defined" not in str(e):
            raise
        if isinstance(e, RuntimeError) and all(v is not None for v in found.values()):
            raise
        have = [f"{k}={v!r} (from {src[k]})" for k, v in found.items() if v is not None]
        missing = [
            f"`{k}` ({_SOURCES[k][0]} or {_SOURCES[k][1]})"
            for k, v in found.items()
            if v is None
        ]
        raise ValueError(
            "initialize_distributed: cannot launch: missing "
            + ", ".join(missing)
            + (f"; found {', '.join(have)}" if have else "; nothing was given")
            + f", and jax.distributed.initialize() did not detect them ({e}). Give "
            "all three (e.g. --coordinator-address host0:1234 --num-processes 2 "
            "--process-id 0), or launch under SLURM (srun), Open MPI (mpirun) or "
            "on Cloud TPU, where they are detected."
        ) from None
    return jax.process_index(), jax.process_count()


def is_writer() -> bool:
    """Whether this process writes the run directory: process 0 (always true in
    a single-process run)."""
    return jax.process_index() == 0


def process_prefix() -> str:
    """`"[process i/n] "` for log lines in a multi-process run, else `""`."""
    n = jax.process_count()
    return f"[process {jax.process_index()}/{n}] " if n > 1 else ""


def agree_to_stop(stop: bool) -> bool:
    """Process 0's `stop` on every process (a collective in a multi-process run,
    so that all stop before the same epoch; else `stop` itself)."""
    if jax.process_count() == 1:
        return stop
    return bool(multihost_utils.broadcast_one_to_all(np.int32(stop)))


def _allgather_bytes(data: bytes) -> list[bytes]:
    """Each process's `data`, in process order (a collective: all must call it)."""
    sizes = multihost_utils.process_allgather(np.array([len(data)], np.int32))
    width = int(np.max(sizes))
    buf = np.zeros(width, np.uint8)
    buf[: len(data)] = np.frombuffer(data, np.uint8)
    rows = np.asarray(multihost_utils.process_allgather(buf))
    return [bytes(row[: int(n)]) for row, n in zip(rows, np.asarray(sizes).ravel())]


def _fingerprint(checkpoint: pathlib.Path) -> dict:
    meta = read_meta(checkpoint)  # raises for a damaged file
    with open(checkpoint, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    return {"epoch": meta.get("epoch"), "batch": meta.get("batch", 0), "sha": digest}


def _describe(row: dict) -> str:
    c, path = row["checkpoint"], row["path"]
    if row["error"]:
        return f"cannot read {path}: {row['error']}"
    if c is None:
        where = "no run directory" if path is None else f"no checkpoint in {path}"
        return where + ("" if row["resume"] else " (resume off)")
    return (
        f"{path}/checkpoint.eqx at epoch {c['epoch']}, batch {c['batch']} "
        f"(sha256 {c['sha'][:12]})"
    )


def agree_on_checkpoint(
    run: Any, settings: dict, *, resume: bool
) -> pathlib.Path | None:
    """The checkpoint of `run` (a `RunDir` or None) to resume from, if any,
    agreed by every process.

    Each process reports what it found (epoch, batch and sha256 of the
    checkpoint, or none) and its settings; unless all agree, every process
    raises the same `ValueError` naming each one's checkpoint, instead of
    training out of step and hanging in a collective. A single process just
    returns its checkpoint, if any (loading it checks it).
    """
    checkpoint = None if run is None else run.checkpoint
    if jax.process_count() == 1:  # nothing to agree on; loading checks the file
        return checkpoint if resume and checkpoint and checkpoint.exists() else None
    row: dict[str, Any] = {"path": None if run is None else str(run.path)}
    row["resume"] = resume
    row["checkpoint"] = row["error"] = None
    try:
        if checkpoint is not None and resume and checkpoint.exists():
            row["checkpoint"] = _fingerprint(checkpoint)
    except Exception as e:  # reported by every process, below
        row["error"] = f"{type(e).__name__}: {e}"
    row["settings"] = settings
    mine = json.dumps(row, sort_keys=True, default=repr).encode()
    rows = [json.loads(b) for b in _allgather_bytes(mine)]
    lines = "\n  ".join(f"process {i}: {_describe(r)}" for i, r in enumerate(rows))
    if any(r["error"] for r in rows):
        raise ValueError(
            f"{process_prefix()}train: not every process could read its "
            f"checkpoint, so none starts:\n  {lines}\nRepair or delete the "
            "damaged checkpoint (or start over with --no-resume), then restart "
            "all processes."
        )
    if any(r["checkpoint"] != rows[0]["checkpoint"] for r in rows):
        raise ValueError(
            f"{process_prefix()}train: the processes found different checkpoints "
            f"to resume from, so none starts:\n  {lines}\nEvery process must read "
            "the same run directory: put --out (out_dir) on a filesystem all hosts "
            "share, or copy process 0's checkpoint to the others; or start over "
            "with --no-resume."
        )
    differ = sorted(
        k
        for k in set().union(*(r["settings"] for r in rows))
        if len({json.dumps(r["settings"].get(k), sort_keys=True) for r in rows}) > 1
    )
    if differ:
        each = "\n  ".join(
            f"process {i}: "
            + ", ".join(f"{k}={r['settings'].get(k)!r}" for k in differ)
            for i, r in enumerate(rows)
        )
        raise ValueError(
            f"{process_prefix()}train: the processes were started with different "
            f"settings, so none starts:\n  {each}\nStart every process with the "
            "same arguments."
        )
    return checkpoint if row["checkpoint"] is not None else None


def raise_lost_peer(error: BaseException, out_dir: Any = None) -> NoReturn:
    """Inside `except`: re-raise a failed collective of a multi-process run as a
    `RuntimeError` saying that a peer process died and how to resume; any
    other error (or a single-process run) is re-raised unchanged."""
    if jax.process_count() == 1 or not isinstance(error, jax.errors.JaxRuntimeError):
        raise error
    first = str(error).strip().splitlines()[0] if str(error).strip() else "?"
    where = f"from the last checkpoint in {out_dir}" if out_dir else "from scratch"
    raise RuntimeError(
        f"{process_prefix()}train: a collective operation across the processes "
        f"failed ({first}): another process probably died or was killed, and "
        "training cannot go on without it. Restart all processes with the same "
        f"arguments; they resume {where}."
    ) from error
