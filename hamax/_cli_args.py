"""The `hamax` command line: flags, their checks and their help (see `_cli.py`)."""

import argparse
import textwrap

from . import __version__
from ._cli_launch import add_launch_flags
from ._cli_types import (
    minutes as minutes,
    nonnegative_float as nonnegative_float,
    nonnegative_int as nonnegative_int,
    positive_float as positive_float,
    positive_int as positive_int,
)
from .zoo import CLASSIFIERS


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


def _sub(sub, name: str, help: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, 79),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add(q, flag: str, help: str, **kw) -> None:
    """`q.add_argument` with the default appended to the help text."""
    q.add_argument(flag, help=f"{help} (default: %(default)s)", **kw)


def _common(q, out: str, what: str = "MNIST/CIFAR-10") -> None:
    _add(
        q,
        "--data",
        f"{what} .npz file or directory to read; None = the cache, downloading "
        "with a sha256 check",
        default=None,
        metavar="PATH",
    )
    _add(q, "--out", "output directory", default=out, metavar="DIR")
    _add(q, "--seed", "random seed", type=nonnegative_int, default=0)


def _flag(q, flag: str, help: str) -> None:
    _add(q, flag, help, action="store_true")


def _train_flags(t) -> None:
    t.add_argument(
        "--model",
        required=True,
        choices=list(CLASSIFIERS),
        help="zoo classifier to train (required)",
    )
    _add(
        t,
        "--epochs",
        "total epochs, a resumed run continues to it; None = 10, or the recipe's",
        type=positive_int,
        default=None,
    )
    _add(t, "--batch-size", "examples per batch", type=positive_int, default=400)
    _add(
        t,
        "--lr",
        "constant AdamW learning rate (not with --recipe); None = 0.001, the paper's",
        type=positive_float,
        default=None,
    )
    _add(
        t,
        "--recipe",
        "a named training recipe (hamax.training.RECIPES): its learning-rate "
        "schedule and run length, with the paper's Table 2 augmentation",
        choices=["paper", "fast"],
        default=None,
    )
    _flag(t, "--augment", "the paper's Table 2 data augmentation")
    _add(
        t,
        "--max-batches",
        "cap on batches per epoch; None = all",
        type=positive_int,
        default=None,
    )
    _time_limit(t)
    resume = t.add_mutually_exclusive_group()
    _flag(resume, "--no-resume", "start over even if --out holds a checkpoint")
    _flag(resume, "--force-resume", "resume even if the saved settings differ")
    _add(
        t,
        "--checkpoint-every",
        "also checkpoint every N batches; None = at the end of each epoch only",
        type=positive_int,
        default=None,
    )
    _flag(
        t, "--no-plots", "do not write accuracy/loss/energy/retrieval plots into --out"
    )
    add_launch_flags(t)  # --distributed and its launch values


def _time_limit(q, who: str = "this command") -> None:
    _add(
        q,
        "--time-limit",
        f"minutes {who} may train: an epoch starts only if it should end in time "
        "(the first always runs); then exit code 4, and the same command "
        "continues; None = no limit",
        type=minutes,
        default=None,
        metavar="MINUTES",
    )


def _retrieve_flags(r) -> None:
    _add(
        r,
        "--labels",
        "labels to clamp, one image each; None = every label",
        type=int,
        nargs="+",
        default=None,
    )
    _add(
        r,
        "--beta-scale",
        "lower the hidden temperature this many times; None = 10 if the model "
        "has one, as in the paper, else 1",
        type=positive_float,
        default=None,
    )
    _add(r, "--steps", "descent steps", type=positive_int, default=15)
    _add(r, "--dt", "descent step size", type=positive_float, default=0.4)
    _add(r, "--noise", "std of the noise image", type=nonnegative_float, default=1.0)
    _add(
        r,
        "--amplitude",
        "clamped label state = amplitude * one-hot",
        type=positive_float,
        default=20.0,
    )


def parser() -> argparse.ArgumentParser:
    """The `hamax` argument parser."""
    p = argparse.ArgumentParser(
        prog="hamax",
        description="Hierarchical Associative Memories in JAX.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"hamax {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = _sub(
        sub,
        "demo",
        "train a paper model on MNIST briefly; print accuracy; write plots",
        "Train a paper model on MNIST briefly, print its test accuracy, write "
        "plots, and check Figure 2 (retrieved digits) with an independent "
        "classifier.",
    )
    _common(d, "hamax-output", "MNIST")
    d.add_argument(
        "--model",
        default="hn_relu_mnist",
        choices=[m for m, s in CLASSIFIERS.items() if s.dataset == "mnist"],
        help="zoo model (default: %(default)s)",
    )
    d.add_argument(
        "--epochs",
        type=positive_int,
        default=None,
        help="epochs (default: %(default)s = 3 on full MNIST, 15 on the offline "
        "subset)",
    )

    t = _sub(
        sub,
        "train",
        "train a zoo classifier (resumes from --out)",
        "Train a zoo classifier. --out is the run directory: checkpoint.eqx, "
        "model.eqx, metrics.json/.csv and the plots (accuracy.png, loss.png, "
        "energy.png, retrieved.png) are written there; a second run on it "
        "resumes.",
    )
    _common(t, "hamax-output/train")
    _train_flags(t)

    e = _sub(
        sub,
        "eval",
        "evaluate a trained model on its test set",
        "Evaluate a model trained by `hamax train` or hamax.training.train (with "
        "a built-in objective) on the test set of its dataset.",
    )
    e.add_argument("run", help="run directory, or a .eqx file inside it")
    _add(
        e,
        "--data",
        "MNIST/CIFAR-10 .npz file or directory to read; None = the cache, "
        "downloading with a sha256 check",
        default=None,
        metavar="PATH",
    )
    _add(
        e,
        "--dataset",
        "dataset of a model that is not from the zoo; None = the zoo model's own",
        choices=["mnist", "cifar10"],
        default=None,
    )

    r = _sub(
        sub,
        "retrieve",
        "Figure 2: clamp labels, retrieve images from noise (paper's recipe)",
        "Figure 2: clamp each label, start the image from noise, descend; writes "
        "retrieved.png and retrieved.npz (images, labels, energies) in --out.",
    )
    r.add_argument("run", help="run directory, or a .eqx file inside it")
    _retrieve_flags(r)
    _add(r, "--seed", "random seed", type=nonnegative_int, default=0)
    _add(r, "--out", "output directory", default="hamax-output/retrieve", metavar="DIR")

    rep = _sub(
        sub,
        "reproduce",
        "train the paper's models at its protocol and write Table 1",
        "Train each model at the paper's protocol (AdamW lr 1e-3, batch 400, Table 2 "
        "augmentation, 100 epochs) in its own run directory under --out, and write "
        "results.md/.json (best and final test accuracy against the paper's), "
        "curves.png, metrics.csv and reproduce.json per model. --epochs is a target: "
        "run again with a larger one to continue in chunks, bit-identical to one "
        "uninterrupted run.",
    )
    _add(
        rep,
        "--data",
        "dataset file or directory: PATH for the models' one dataset, or "
        "mnist=PATH / cifar10=PATH (repeatable); unset = the cache, downloading "
        "with a sha256 check",
        action="append",
        default=None,
        metavar="[DATASET=]PATH",
    )
    _add(
        rep,
        "--out",
        "output directory",
        default="hamax-output/reproduce",
        metavar="DIR",
    )
    _add(rep, "--seed", "random seed", type=nonnegative_int, default=0)
    rep.add_argument(
        "--models",
        nargs="+",
        default=["hn_relu_mnist", "hn_softmax_mnist", "conv_ham_mnist"],
        choices=list(CLASSIFIERS),
        help="zoo models (default: %(default)s)",
    )
    _add(
        rep,
        "--epochs",
        "target epochs per model (the paper's Table 1: 100)",
        type=positive_int,
        default=100,
    )
    _add(
        rep,
        "--augment",
        "the paper's Table 2 augmentation (--no-augment to train without)",
        action=argparse.BooleanOptionalAction,
        default=True,
    )
    _add(
        rep,
        "--max-batches",
        "cap on batches per epoch (for quick checks; not the paper's protocol)",
        type=positive_int,
        default=None,
    )
    _time_limit(rep, "each model (the whole command: up to N models times that)")
    return p
