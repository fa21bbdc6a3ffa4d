"""`hamax train|eval|retrieve|demo|reproduce`: parse arguments, run the command.

Each subcommand is one module of this package (its flags and its run);
`parser()` is a loop over them. Exit codes: 0 success, 1 error, 2 usage error,
3 training stopped at a non-finite loss, 4 stopped at --time-limit, 130
interrupted (see `_flags.EXIT_CODES`).
"""

import argparse
import os
import sys

import equinox as eqx

from .. import __version__
from .._io._checkpoint import CheckpointError
from ..data import ChecksumError, DataUnavailableError
from ..training import RunLockedError
from . import _demo, _eval, _reproduce, _retrieve, _train
from ._flags import ERROR_EXIT, EXIT_CODES, sub


# In the order `hamax --help` lists them.
COMMANDS = (_demo, _train, _eval, _retrieve, _reproduce)


def parser() -> argparse.ArgumentParser:
    """The `hamax` argument parser."""
    p = argparse.ArgumentParser(
        prog="hamax",
        description="Hierarchical Associative Memories in JAX.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"hamax {__version__}")
    subparsers = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.flags(sub(subparsers, command.NAME, command.HELP, command.DESCRIPTION))
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hamax` command; returns the exit code."""
    args = parser().parse_args(argv)
    command = {c.NAME: c for c in COMMANDS}[args.command]
    try:
        return command.run(args, argv)
    except (
        DataUnavailableError,
        ChecksumError,
        CheckpointError,
        RunLockedError,
        OSError,
        ValueError,
        eqx.EquinoxRuntimeError,  # e.g. a descent that became non-finite
    ) as e:
        print(f"hamax {args.command}: error: {e}", file=sys.stderr)
        return ERROR_EXIT
    except KeyboardInterrupt:
        print(
            f"hamax {args.command}: interrupted; a run directory keeps its last "
            "checkpoint, and the same command continues it.",
            file=sys.stderr,
        )
        if argv is None:  # the `hamax` command, not a call from Python
            # Exit now: interpreter shutdown while JAX still compiles or runs
            # on other threads can crash (a segfault instead of 130).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        return 130


if __name__ == "__main__":
    sys.exit(main())
