"""`hamax train|eval|retrieve|demo|reproduce`: parse arguments, call the public API.

Exit codes: 0 success, 1 error, 2 usage error, 3 training stopped at a non-finite
loss, 4 stopped at --time-limit, 130 interrupted (see `_cli_args.EXIT_CODES`).
"""

import os
import pathlib
import shlex
import sys

from ._cli_args import parser as _parser
from ._cli_run import eval_command, retrieve_command
from .zoo import CLASSIFIERS


NONFINITE_EXIT = 3
TIME_LIMIT_EXIT = 4


def _minutes(value: float | None) -> float | None:
    return None if value is None else 60 * value


def _time_limited(command: str, minutes: float, done: int, where) -> None:
    print(
        f"hamax {command}: stopped before epoch {done + 1}, which would not have "
        f"ended within --time-limit {minutes:g} min; {where} holds epoch {done}, "
        "and the same command continues the run.",
        file=sys.stderr,
    )


def _stopped_exit(statuses: list[str]) -> int:
    """0 when every run completed, else 3 (a non-finite loss) or 4 (only
    time limits)."""
    if all(s == "completed" for s in statuses):
        return 0
    timed = all(s == "completed" or "time limit" in s for s in statuses)
    return TIME_LIMIT_EXIT if timed else NONFINITE_EXIT


def _train(args, progress: bool) -> int:
    from . import _apps
    from ._cli_launch import join_run
    from .data import AUGMENTATIONS
    from .training import RECIPES, RunDir, is_writer, train_classifier
    from .training._distributed import process_prefix

    join_run(args)  # with --distributed: before any other JAX work
    recipe = RECIPES[args.recipe] if args.recipe else None
    if recipe is not None and args.lr is not None:
        raise ValueError(
            f"--lr {args.lr:g} and --recipe {args.recipe} both set the learning "
            "rate; drop one of them."
        )
    epochs = args.epochs or (recipe.epochs if recipe else 10)
    augment = args.augment or (recipe is not None and recipe.augment)
    out = pathlib.Path(args.out)
    if is_writer():  # one writer: process 0; the others only read --out
        RunDir(out).check_writable()  # before loading data or training
    spec = CLASSIFIERS[args.model]
    arrays = _apps.load_dataset(spec.dataset, args.data)
    res = train_classifier(
        args.model,
        arrays,
        epochs=epochs,
        recipe=recipe,
        batch_size=args.batch_size,
        learning_rate=args.lr or 1e-3,
        seed=args.seed,
        out_dir=out,
        resume=not args.no_resume,
        force_resume=args.force_resume,
        progress=progress,
        max_batches=args.max_batches,
        checkpoint_every=args.checkpoint_every,
        augment=AUGMENTATIONS[spec.dataset] if augment else None,
        time_limit=_minutes(args.time_limit),
    )
    if "time limit" in res.status:
        done = len(res.history)
        _time_limited("train", args.time_limit, done, res.checkpoint)
        return TIME_LIMIT_EXIT
    if res.status != "completed":
        saved = (
            f"{res.checkpoint}" if res.checkpoint and res.checkpoint.exists() else ""
        )
        print(
            f"hamax train: {res.status}; "
            + (f"the last good state is in {saved}" if saved else "nothing was saved")
            + ". Lower --lr, or train a model with a smaller dt.",
            file=sys.stderr,
        )
        return NONFINITE_EXIT
    if not args.no_plots and res.history and is_writer():
        import jax

        ham = jax.device_get(res.ham)  # off the global mesh: process 0 plots alone
        plots = _apps.train_plots(
            out, ham, args.model, res.history, arrays["x_test"], seed=args.seed
        )
        print(f"plots: {', '.join(map(str, plots))}")
    print(
        f"{process_prefix()}test accuracy: "
        f"{100 * res.history[-1]['test_accuracy']:.2f}% (run directory: {out})"
    )
    return 0


def _reproduce_data(given: list[str] | None, models: list[str]) -> dict[str, str]:
    """`--data` values as {dataset: path}: `mnist=PATH`, `cifar10=PATH`, or a bare
    PATH when the models use one dataset."""
    datasets = sorted({CLASSIFIERS[m].dataset for m in models})
    out: dict[str, str] = {}
    for item in given or []:
        name, sep, path = item.partition("=")
        if sep and name in ("mnist", "cifar10"):
            out[name] = path
        elif len(datasets) == 1:
            out[datasets[0]] = item
        else:
            raise ValueError(
                f"--data {item!r}: the models use {' and '.join(datasets)}, so say "
                "which dataset the path is for, e.g. --data mnist=PATH --data "
                "cifar10=PATH."
            )
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hamax` command; returns the exit code."""
    args = _parser().parse_args(argv)
    import equinox as eqx

    from . import _apps
    from ._checkpoint import CheckpointError
    from .data import ChecksumError, DataUnavailableError
    from .training import RunLockedError

    # One line per epoch on stderr; a progress bar within an epoch on a terminal
    # only (logs and CI get no carriage-return updates).
    progress = True
    try:
        if args.command == "demo":
            summary = _apps.run_demo(
                args.out,
                data=args.data,
                model=args.model,
                epochs=args.epochs,
                seed=args.seed,
                progress=progress,
            )
            return 0 if summary["status"] == "completed" else NONFINITE_EXIT
        if args.command == "train":
            return _train(args, progress)
        if args.command == "eval":
            return eval_command(args)
        if args.command == "retrieve":
            return retrieve_command(args)
        from ._app_reproduce import run_reproduce

        rows = run_reproduce(
            args.out,
            models=args.models,
            epochs=args.epochs,
            data=_reproduce_data(args.data, args.models),
            seed=args.seed,
            augment=args.augment,
            max_batches=args.max_batches,
            time_limit=_minutes(args.time_limit),
            progress=progress,
            command=shlex.join(["hamax", *(sys.argv[1:] if argv is None else argv)]),
        )
        for r in rows:
            if "time limit" in r["status"]:
                where = pathlib.Path(args.out) / r["model"]
                _time_limited("reproduce", args.time_limit, r["epochs"], where)
        return _stopped_exit([r["status"] for r in rows])
    except (
        DataUnavailableError,
        ChecksumError,
        CheckpointError,
        RunLockedError,
        OSError,
        ValueError,
    ) as e:
        print(f"hamax {args.command}: error: {e}", file=sys.stderr)
        return 1
    except eqx.EquinoxRuntimeError as e:  # e.g. a descent that became non-finite
        print(f"hamax {args.command}: error: {e}", file=sys.stderr)
        return 1
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
