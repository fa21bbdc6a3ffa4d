"""`hamax eval`: a saved run's loss and metrics on the test set of its dataset."""

import argparse

from ..training import (
    Classification,
    Completion,
    Joint,
    evaluate,
    objective_from_json,
    standardize,
    zoo_objective,
)
from ..training._model_io import load_run
from ..zoo import CLASSIFIERS
from ._flags import add, data_flag, load_dataset


NAME = "eval"
HELP = "evaluate a trained model on its test set"
DESCRIPTION = (
    "Evaluate a model trained by `hamax train` or hamax.training.train (with "
    "a built-in objective) on the test set of its dataset."
)


def flags(e: argparse.ArgumentParser) -> None:
    """`hamax eval`'s flags."""
    e.add_argument("run", help="run directory, or a .eqx file inside it")
    data_flag(e)
    add(
        e,
        "--dataset",
        "dataset of a model that is not from the zoo; None = the zoo model's own",
        choices=["mnist", "cifar10"],
        default=None,
    )


def stored_objective(meta: dict) -> dict | None:
    """The JSON of the objective a run was trained with, if it stores one."""
    return meta.get("objective") or meta.get("settings", {}).get("objective")


def _objective(meta: dict, run: str):
    stored = stored_objective(meta)
    if stored is not None:
        return objective_from_json(stored)
    if meta.get("model") in CLASSIFIERS:
        return zoo_objective(meta["model"])
    raise ValueError(
        f"{run} stores no training objective (meta keys: {', '.join(meta)}); "
        "evaluate it from Python with hamax.training.evaluate(ham, objective, data)."
    )


def _eval_data(objective, x, y) -> dict:
    """The test batch keyed as `objective` reads it: images for the layers it
    clamps or completes, integer labels for those it reads or clamps as labels."""
    parts = objective.objectives if isinstance(objective, Joint) else (objective,)
    data = {}
    for o in parts:
        if isinstance(o, Classification):
            data[o.image], data[o.label] = x, y
        elif isinstance(o, Completion):
            data[o.target] = x
            data.update({k: y for k in o.given})
    return data


def run(args: argparse.Namespace, argv: list[str] | None) -> int:
    """Run `hamax eval`; returns the exit code."""
    del argv
    ham, meta = load_run(args.run)
    model = meta.get("model")
    spec = CLASSIFIERS.get(model) if isinstance(model, str) else None
    dataset = args.dataset or (spec.dataset if spec else None)
    if dataset is None:
        raise ValueError(
            f"{args.run} holds a model that is not from the zoo, so its dataset is "
            "unknown; pass --dataset mnist or --dataset cifar10."
        )
    if spec is not None and dataset != spec.dataset:
        raise ValueError(
            f"{args.run} holds zoo model {model!r}, trained on {spec.dataset}; got "
            f"--dataset {dataset}. Drop --dataset or pass --dataset {spec.dataset}."
        )
    objective = _objective(meta, args.run)
    arrays = load_dataset(dataset, args.data)
    x = standardize(arrays["x_test"], dataset)
    data = _eval_data(objective, x, arrays["y_test"].astype("int32"))
    objective.check(ham, data)
    m = evaluate(ham, objective, data)
    parts = [
        f"{k} {100 * v:.2f}%" if k.endswith("accuracy") else f"{k} {v:.4f}"
        for k, v in m.items()
    ]
    name = model if isinstance(model, str) else type(ham).__name__
    print(
        f"{name} (epoch {meta.get('epoch', '?')}) on the {dataset} test set: "
        + ", ".join(parts)
    )
    return 0
