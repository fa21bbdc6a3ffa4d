"""`hamax train|eval|retrieve|demo|reproduce`: parse arguments, call the public API.

Exit codes: 0 success, 1 error, 2 usage error, 3 training stopped at a non-finite
loss, 130 interrupted (see `_cli_args.EXIT_CODES`).
"""

import contextlib
import json
import pathlib
import sys
import threading
from collections.abc import Iterator

from ._cli_args import parser as _parser
from .zoo import CLASSIFIERS


NONFINITE_EXIT = 3


def _summary(row: dict, epochs: int | None) -> str:
    parts = [f"epoch {row.get('epoch')}" + (f"/{epochs}" if epochs else "")]
    for k, v in row.items():
        if k not in ("epoch", "epoch_seconds") and isinstance(v, float):
            parts.append(f"{k} {v:.4f}")
    if "epoch_seconds" in row:
        parts.append(f"{row['epoch_seconds']:.1f}s")
    return " | ".join(parts)


@contextlib.contextmanager
def epoch_lines(
    run_dir: pathlib.Path, epochs: int | None, enabled: bool
) -> Iterator[None]:
    """Off a terminal, print one plain line per finished epoch to stderr (read
    from the run's `metrics.json`) instead of progress-bar updates."""
    if not enabled:
        yield
        return
    path = run_dir / "metrics.json"

    def rows() -> list:
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return []
        return data if isinstance(data, list) else []

    seen = {json.dumps(r, sort_keys=True) for r in rows()}
    stop = threading.Event()

    def poll() -> None:
        for r in rows():
            key = json.dumps(r, sort_keys=True)
            if key not in seen and isinstance(r, dict):
                seen.add(key)
                print(_summary(r, epochs), file=sys.stderr, flush=True)

    def loop() -> None:
        while not stop.wait(0.5):
            poll()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        poll()


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

    from . import _apps, load_run

    matplotlib.use("Agg")
    ham, meta = load_run(args.run)
    model = meta.get("model") if isinstance(meta.get("model"), str) else None
    image, label = _layers_of(meta)
    path = _apps.retrieval_figure(
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
    return 0


def _train(args, progress: bool) -> int:
    from . import _apps
    from .data import AUGMENTATIONS
    from .training import RunDir, train_classifier

    if args.distributed:
        import jax

        jax.distributed.initialize()
    out = pathlib.Path(args.out)
    RunDir(out).check_writable()  # before loading data or training
    spec = CLASSIFIERS[args.model]
    arrays = _apps.load_dataset(spec.dataset, args.data)
    with epoch_lines(out, args.epochs, enabled=not progress):
        res = train_classifier(
            args.model,
            arrays,
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            seed=args.seed,
            out_dir=out,
            resume=not args.no_resume,
            force_resume=args.force_resume,
            progress=progress,
            max_batches=args.max_batches,
            checkpoint_every=args.checkpoint_every,
            augment=AUGMENTATIONS[spec.dataset] if args.augment else None,
        )
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
    if not args.no_plots and res.history:
        plots = _apps.train_plots(
            out, res.ham, args.model, res.history, arrays["x_test"], seed=args.seed
        )
        print(f"plots: {', '.join(map(str, plots))}")
    print(
        f"test accuracy: {100 * res.history[-1]['test_accuracy']:.2f}% "
        f"(run directory: {out})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hamax` command; returns the exit code."""
    args = _parser().parse_args(argv)
    from . import _apps
    from ._checkpoint import CheckpointError
    from .data import ChecksumError, DataUnavailableError
    from .training import RunLockedError

    # Progress bars on a terminal; elsewhere (logs, CI) one plain line per epoch.
    progress = sys.stderr.isatty()
    try:
        if args.command == "demo":
            with epoch_lines(pathlib.Path(args.out) / "run", None, not progress):
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
        _apps.run_reproduce(
            args.out,
            models=args.models,
            epochs=args.epochs,
            data=args.data,
            seed=args.seed,
            augment=args.augment,
            progress=progress,
        )
        return 0
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
