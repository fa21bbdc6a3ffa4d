"""`hamax train`'s multi-process flags, and joining the run they describe
(docs/scaling.md)."""

import argparse


def add_launch_flags(t: argparse.ArgumentParser) -> None:
    """`--distributed`, `--coordinator-address`, `--num-processes`, `--process-id`."""
    # Imported here: `_cli_args` imports this module to build its parser.
    from ._cli_args import _add, _flag
    from ._cli_types import nonnegative_int, positive_int

    _flag(
        t,
        "--distributed",
        "join a multi-process run (jax.distributed; one process per host or GPU, "
        "all with the same arguments; only process 0 writes --out)",
    )
    for flag, what, var, kw in (
        ("--coordinator-address", "host:port of process 0", "JAX_COORDINATOR_ADDRESS",
         {"metavar": "HOST:PORT"}),
        ("--num-processes", "processes in the run", "JAX_NUM_PROCESSES",
         {"type": positive_int}),
        ("--process-id", "this process's id, 0 .. N-1", "JAX_PROCESS_ID",
         {"type": nonnegative_int}),
    ):  # fmt: skip
        what += f" (implies --distributed); None = {var}, else detected"
        _add(t, flag, what + " (SLURM, Open MPI, Cloud TPU)", default=None, **kw)


def join_run(args: argparse.Namespace) -> None:
    """Join the multi-process run the flags describe; nothing without them.

    **Raises:** `ValueError` naming the launch values that are missing.
    """
    launch = (args.coordinator_address, args.num_processes, args.process_id)
    if args.distributed or any(v is not None for v in launch):
        from .training import initialize_distributed

        initialize_distributed(*launch)
