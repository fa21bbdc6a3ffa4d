"""`hamax train`: train a zoo classifier in a run directory (resumable), with
the multi-process launch flags of docs/scaling.md."""

import argparse
import pathlib
import sys

import jax

from ..data import AUGMENTATIONS
from ..training import (
    RECIPES,
    Limits,
    RunDir,
    TrainStatus,
    adamw,
    initialize_distributed,
    is_writer,
    train_classifier,
)
from ..training._distributed import process_prefix
from ..zoo import CLASSIFIERS
from . import _figures
from ._flags import (
    NONFINITE_EXIT,
    TIME_LIMIT_EXIT,
    add,
    data_flag,
    flag,
    load_dataset,
    out_flag,
    seconds,
    seed_flag,
    stop_if_interrupted,
    time_limit_flag,
    time_limited,
)
from ._types import nonnegative_int, positive_float, positive_int


NAME = "train"
HELP = "train a zoo classifier (resumes from --out)"
DESCRIPTION = (
    "Train a zoo classifier. --out is the run directory: checkpoint.eqx, "
    "model.eqx, metrics.json/.csv and the plots (accuracy.png, loss.png, "
    "energy.png, retrieved.png) are written there; a second run on it resumes."
)


def flags(t: argparse.ArgumentParser) -> None:
    """`hamax train`'s flags."""
    data_flag(t)
    out_flag(t, "hamax-output/train")
    seed_flag(t)
    t.add_argument(
        "--model",
        required=True,
        choices=list(CLASSIFIERS),
        help="zoo classifier to train (required)",
    )
    add(
        t,
        "--epochs",
        "total epochs, a resumed run continues to it; None = 10, or the recipe's",
        type=positive_int,
        default=None,
    )
    add(t, "--batch-size", "examples per batch", type=positive_int, default=400)
    add(
        t,
        "--lr",
        "constant AdamW learning rate (not with --recipe); None = 0.001, the paper's",
        type=positive_float,
        default=None,
    )
    add(
        t,
        "--recipe",
        "a named training recipe (hamax.training.RECIPES): its learning-rate "
        "schedule and run length, with the paper's Table 2 augmentation",
        choices=["paper", "fast"],
        default=None,
    )
    flag(t, "--augment", "the paper's Table 2 data augmentation")
    add(
        t,
        "--max-batches",
        "cap on batches per epoch; None = all",
        type=positive_int,
        default=None,
    )
    time_limit_flag(t)
    resume = t.add_mutually_exclusive_group()
    flag(resume, "--no-resume", "start over even if --out holds a checkpoint")
    flag(resume, "--force-resume", "resume even if the saved settings differ")
    add(
        t,
        "--checkpoint-every",
        "also checkpoint every N batches; None = at the end of each epoch only",
        type=positive_int,
        default=None,
    )
    flag(
        t, "--no-plots", "do not write accuracy/loss/energy/retrieval plots into --out"
    )
    _launch_flags(t)


def _launch_flags(t: argparse.ArgumentParser) -> None:
    """`--distributed`, `--coordinator-address`, `--num-processes`, `--process-id`."""
    flag(
        t,
        "--distributed",
        "join a multi-process run (jax.distributed; one process per host or GPU, "
        "all with the same arguments; only process 0 writes --out)",
    )
    for name, what, var, kw in (
        ("--coordinator-address", "host:port of process 0", "JAX_COORDINATOR_ADDRESS",
         {"metavar": "HOST:PORT"}),
        ("--num-processes", "processes in the run", "JAX_NUM_PROCESSES",
         {"type": positive_int}),
        ("--process-id", "this process's id, 0 .. N-1", "JAX_PROCESS_ID",
         {"type": nonnegative_int}),
    ):  # fmt: skip
        what += f" (implies --distributed); None = {var}, else detected"
        add(t, name, what + " (SLURM, Open MPI, Cloud TPU)", default=None, **kw)


def join_run(args: argparse.Namespace) -> None:
    """Join the multi-process run the flags describe; nothing without them.

    **Raises:** `ValueError` naming the launch values that are missing.
    """
    launch = (args.coordinator_address, args.num_processes, args.process_id)
    if args.distributed or any(v is not None for v in launch):
        initialize_distributed(*launch)


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run `hamax train`; returns the exit code."""
    del argv
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
    arrays = load_dataset(spec.dataset, args.data)
    res = train_classifier(
        args.model,
        arrays,
        epochs=epochs,
        optim=recipe if recipe is not None else adamw(args.lr or 1e-3),
        batch_size=args.batch_size,
        seed=args.seed,
        run=RunDir(
            out,
            resume=not args.no_resume,
            force_resume=args.force_resume,
            checkpoint_every=args.checkpoint_every,
        ),
        progress=True,
        limits=Limits(time=seconds(args.time_limit), batches=args.max_batches),
        augment=AUGMENTATIONS[spec.dataset] if augment else None,
    )
    stop_if_interrupted(res.status)
    if res.status is TrainStatus.time_limit:
        time_limited("train", args.time_limit, len(res.history), res.checkpoint)
        return TIME_LIMIT_EXIT
    if res.status is not TrainStatus.completed:
        saved = (
            f"{res.checkpoint}" if res.checkpoint and res.checkpoint.exists() else ""
        )
        print(
            f"hamax train: {res.message}; "
            + (f"the last good state is in {saved}" if saved else "nothing was saved")
            + ". Lower --lr, or train a model with a smaller dt.",
            file=sys.stderr,
        )
        return NONFINITE_EXIT
    if not args.no_plots and res.history and is_writer():
        ham = jax.device_get(res.ham)  # off the global mesh: process 0 plots alone
        plots = _figures.train_plots(
            out, ham, args.model, res.history, arrays["x_test"], seed=args.seed
        )
        print(f"plots: {', '.join(map(str, plots))}")
    print(
        f"{process_prefix()}test accuracy: "
        f"{100 * res.history[-1]['test_accuracy']:.2f}% (run directory: {out})"
    )
    return 0
