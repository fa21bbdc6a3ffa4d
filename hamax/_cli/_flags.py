"""What the `hamax` subcommands share: the help layout, flag helpers, exit codes,
stderr messages and the dataset loader (each subcommand's own flags live in its
file)."""

import argparse
import sys
import textwrap

from ..data import load_cifar10, load_mnist
from ..training import TrainStatus
from ._types import minutes, nonnegative_int


# Exit codes (documented in EXIT_CODES).
ERROR_EXIT, NONFINITE_EXIT, TIME_LIMIT_EXIT = 1, 3, 4

EXIT_CODES = """\
exit codes:
  0  success
  1  error (bad file or data, locked or unwritable run directory, ...); the
     message starts with "hamax <command>: error:"
  2  usage error (unknown command or flag, bad flag value)
  3  training stopped at a non-finite loss (the last good state is kept)
  4  training stopped at --time-limit (checkpointed; run the same command
     again to continue)
  130 interrupted (Ctrl-C)
"""


def sub(subparsers, name: str, help: str, description: str) -> argparse.ArgumentParser:
    """The parser of subcommand `name`, laid out as every subcommand's is."""
    return subparsers.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 79),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add(q, flag: str, help: str, **kw) -> None:
    """`q.add_argument` with the default appended to the help text."""
    q.add_argument(flag, help=f"{help} (default: %(default)s)", **kw)


def flag(q, name: str, help: str) -> None:
    """A `store_true` flag."""
    add(q, name, help, action="store_true")


def data_flag(q, what: str = "MNIST/CIFAR-10") -> None:
    """`--data PATH`: a dataset file or directory, else the cache."""
    add(
        q,
        "--data",
        f"{what} .npz file or directory to read; None = the cache, downloading "
        "with a sha256 check",
        default=None,
        metavar="PATH",
    )


def seed_flag(q) -> None:
    """`--seed N`."""
    add(q, "--seed", "random seed", type=nonnegative_int, default=0)


def out_flag(q, default: str) -> None:
    """`--out DIR`."""
    add(q, "--out", "output directory", default=default, metavar="DIR")


def time_limit_flag(q, who: str = "this command") -> None:
    """`--time-limit MINUTES` (read it with `seconds`)."""
    add(
        q,
        "--time-limit",
        f"minutes {who} may train: an epoch starts only if it should end in time "
        "(the first always runs); then exit code 4, and the same command "
        "continues; None = no limit",
        type=minutes,
        default=None,
        metavar="MINUTES",
    )


def seconds(minutes: float | None) -> float | None:
    """`--time-limit` in the seconds that `hamax.training` takes."""
    return None if minutes is None else 60 * minutes


def say(msg: str) -> None:
    """Progress messages go to stderr, results to stdout."""
    print(msg, file=sys.stderr, flush=True)


def time_limited(command: str, minutes: float, done: int, where) -> None:
    """Say on stderr that `command` stopped at `--time-limit`, and how to go on."""
    print(
        f"hamax {command}: stopped before epoch {done + 1}, which would not have "
        f"ended within --time-limit {minutes:g} min; {where} holds epoch {done}, "
        "and the same command continues the run.",
        file=sys.stderr,
    )


def exit_code(statuses: list[TrainStatus]) -> int:
    """0 when every run completed, else 3 (a non-finite loss) or 4 (only time
    limits)."""
    if all(s is TrainStatus.completed for s in statuses):
        return 0
    done = (TrainStatus.completed, TrainStatus.time_limit)
    return TIME_LIMIT_EXIT if all(s in done for s in statuses) else NONFINITE_EXIT


def stop_if_interrupted(status: TrainStatus) -> None:
    """Raise `KeyboardInterrupt` again for a run that Ctrl-C stopped (`train`
    returns it as a status), so that `main` exits 130 as for any Ctrl-C."""
    if status is TrainStatus.interrupted:
        raise KeyboardInterrupt


def load_dataset(dataset: str, data: str | None) -> dict:
    """MNIST or CIFAR-10 from `data` (file or directory), else the cache/download."""
    loader = load_mnist if dataset == "mnist" else load_cifar10
    return loader(data, download=False) if data is not None else loader()
