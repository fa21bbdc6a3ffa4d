"""`hamax retrieve`: Figure 2 of the paper from a saved run (clamp each label,
start the image from noise, descend)."""

import argparse
import pathlib
import sys

import numpy as np

from ..training._model_io import load_run
from ._eval import stored_objective
from ._figures import retrieval_with_energies, rising_labels
from ._flags import add, out_flag, seed_flag
from ._types import nonnegative_float, positive_float, positive_int


NAME = "retrieve"
HELP = "Figure 2: clamp labels, retrieve images from noise (paper's recipe)"
DESCRIPTION = (
    "Figure 2: clamp each label, start the image from noise, descend; writes "
    "retrieved.png and retrieved.npz (images, labels, energies) in --out."
)


def flags(r: argparse.ArgumentParser) -> None:
    """`hamax retrieve`'s flags."""
    r.add_argument("run", help="run directory, or a .eqx file inside it")
    add(
        r,
        "--labels",
        "labels to clamp, one image each; None = every label",
        type=int,
        nargs="+",
        default=None,
    )
    add(
        r,
        "--beta-scale",
        "lower the hidden temperature this many times; None = 10 if the model "
        "has one, as in the paper, else 1",
        type=positive_float,
        default=None,
    )
    add(r, "--steps", "descent steps", type=positive_int, default=15)
    add(r, "--dt", "descent step size", type=positive_float, default=0.4)
    add(r, "--noise", "std of the noise image", type=nonnegative_float, default=0.1)
    add(
        r,
        "--amplitude",
        "clamped label state = amplitude * one-hot",
        type=positive_float,
        default=20.0,
    )
    seed_flag(r)
    out_flag(r, "hamax-output/retrieve")


def _layers_of(meta: dict) -> tuple[str | None, str | None]:
    """Image and label layers from a stored Classification objective, if any."""
    stored = stored_objective(meta)
    todo = [stored] if isinstance(stored, dict) else []
    while todo:
        d = todo.pop(0)
        if d.get("class") == "Classification":
            return d.get("image"), d.get("label")
        todo.extend(o for o in d.get("objectives", []) if isinstance(o, dict))
    return None, None


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run `hamax retrieve`; returns the exit code."""
    del argv
    ham, meta = load_run(args.run)
    model = meta.get("model") if isinstance(meta.get("model"), str) else None
    image, label = _layers_of(meta)
    path, labels, energies, outcome = retrieval_with_energies(
        ham,
        model,
        pathlib.Path(args.out),
        labels=args.labels,
        beta_scale=args.beta_scale,
        steps=args.steps,
        dt=args.dt,
        noise=args.noise,
        amplitude=args.amplitude,
        seed=args.seed,
        image=image,
        label=label,
    )
    print(f"wrote {path} and {path.with_suffix('.npz')}")
    if outcome is not None:
        steps = np.asarray(outcome.num_steps)
        for i, lab in enumerate(np.ravel(labels)):
            near, cos = int(outcome.nearest[i]), float(outcome.similarity[i])
            print(
                f"label {int(lab)}: {outcome.names[i]} (nearest memory {near}, "
                f"cosine {cos:.2f}, top share {float(outcome.top_weight[i]):.2f}), "
                f"energy {float(outcome.energy[i]):.4g}, "
                f"{int(steps[i])} steps"
            )
    rising = rising_labels(labels, energies)
    if rising:
        print(
            f"hamax retrieve: warning: the descent was unstable for label(s) "
            f"{rising}: the energy rose (--dt {args.dt:g} is too large for this "
            "model), so the images may mean nothing; lower --dt.",
            file=sys.stderr,
        )
    return 0
