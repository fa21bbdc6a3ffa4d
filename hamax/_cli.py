"""`hamax train|eval|retrieve|demo|reproduce`: parse arguments, call the public API.

Exit codes: 0 success, 1 error, 2 usage error, 3 training stopped at a non-finite
loss, 4 stopped at --time-limit, 130 interrupted (see `_cli_args.EXIT_CODES`).
"""

import pathlib
import shlex
import sys

from ._cli_args import parser as _parser
from .zoo import CLASSIFIERS


NONFINITE_EXIT = 3
TIME_LIMIT_EXIT = 4


def _minutes(value: float | None) -> float | None:
    return None if value is None else 60 * value


def _stopped_exit(statuses: list[str]) -> int:
    """0 when every run completed, else 3 (a non-finite loss) or 4 (only
    time limits)."""
    if all(s == "completed" for s in statuses):
        return 0
    timed = all(s == "completed" or "time limit" in s for s in statuses)
    return TIME_LIMIT_EXIT if timed else NONFINITE_EXIT


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


def _eval(args) -> int:
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


def _retrieve(args) -> int:
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
        print(
            f"hamax train: {res.status} (checkpoint: {res.checkpoint}); the same "
            "command continues the run.",
            file=sys.stderr,
        )
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
            return _eval(args)
        if args.command == "retrieve":
            return _retrieve(args)
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
    except KeyboardInterrupt:
        print(f"hamax {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
