"""`hamax eval` and `hamax retrieve`: the commands that read a saved run."""

import pathlib
import sys

from .zoo import CLASSIFIERS


def _objective(meta: dict, run: str):
    from .training import objective_from_json, zoo_objective

    stored = meta.get("objective") or meta.get("settings", {}).get("objective")
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
    from .training import Classification, Completion, Joint

    parts = objective.objectives if isinstance(objective, Joint) else (objective,)
    data = {}
    for o in parts:
        if isinstance(o, Classification):
            data[o.image], data[o.label] = x, y
        elif isinstance(o, Completion):
            data[o.target] = x
            data.update({k: y for k in o.given})
    return data


def eval_command(args) -> int:
    from . import _apps, load_run
    from .training import evaluate, standardize

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
    arrays = _apps.load_dataset(dataset, args.data)
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


def _layers_of(meta: dict) -> tuple[str | None, str | None]:
    """Image and label layers from a stored Classification objective, if any."""
    stored = meta.get("objective") or meta.get("settings", {}).get("objective")
    todo = [stored] if isinstance(stored, dict) else []
    while todo:
        d = todo.pop(0)
        if d.get("class") == "Classification":
            return d.get("image"), d.get("label")
        todo.extend(o for o in d.get("objectives", []) if isinstance(o, dict))
    return None, None


def retrieve_command(args) -> int:
    import matplotlib

    from . import load_run
    from ._app_figures import retrieval_with_energies, rising_labels

    matplotlib.use("Agg")
    ham, meta = load_run(args.run)
    model = meta.get("model") if isinstance(meta.get("model"), str) else None
    image, label = _layers_of(meta)
    path, labels, energies = retrieval_with_energies(
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
    rising = rising_labels(labels, energies)
    if rising:
        print(
            f"hamax retrieve: warning: the descent was unstable for label(s) "
            f"{rising}: the energy rose (--dt {args.dt:g} is too large for this "
            "model), so the images may mean nothing; lower --dt.",
            file=sys.stderr,
        )
    return 0
