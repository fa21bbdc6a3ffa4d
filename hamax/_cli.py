"""`hamax train|eval|retrieve|demo|reproduce`: parse arguments, call the public API."""

import argparse
import sys

from .zoo import CLASSIFIERS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hamax", description="Hierarchical Associative Memories in JAX."
    )
    sub = p.add_subparsers(dest="command", required=True)

    def common(q, out_default):
        q.add_argument(
            "--data",
            default=None,
            help="MNIST/CIFAR-10 .npz file or directory (default: cache/download)",
        )
        q.add_argument(
            "--out", default=out_default, help="output directory (default: %(default)s)"
        )
        q.add_argument("--seed", type=int, default=0)

    d = sub.add_parser(
        "demo", help="train a paper model on MNIST briefly; print accuracy; write plots"
    )
    common(d, "hamax-output")
    d.add_argument(
        "--model",
        default="hn_relu_mnist",
        choices=[m for m, s in CLASSIFIERS.items() if s.dataset == "mnist"],
    )
    d.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="default: 3 on full MNIST, 15 on the offline subset",
    )

    t = sub.add_parser("train", help="train a zoo classifier (resumes from --out)")
    common(t, "hamax-output/train")
    t.add_argument("--model", required=True, choices=list(CLASSIFIERS))
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=400)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument(
        "--augment", action="store_true", help="paper-style data augmentation"
    )
    t.add_argument(
        "--max-batches", type=int, default=None, help="cap batches per epoch"
    )
    t.add_argument(
        "--no-resume",
        action="store_true",
        help="start over even if --out has a checkpoint",
    )
    t.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="also checkpoint every N batches",
    )
    t.add_argument(
        "--distributed",
        action="store_true",
        help="call jax.distributed.initialize() first (multi-host, one process each)",
    )

    e = sub.add_parser("eval", help="evaluate a checkpoint written by `hamax train`")
    e.add_argument("checkpoint")
    e.add_argument("--data", default=None)

    r = sub.add_parser(
        "retrieve",
        help="Figure 2: clamp labels, retrieve images from noise (paper's recipe)",
    )
    r.add_argument("checkpoint", help="run directory (with checkpoint.eqx) or file")
    r.add_argument(
        "--labels", type=int, nargs="+", default=None, help="default: every label"
    )
    r.add_argument(
        "--beta-scale",
        type=float,
        default=None,
        help="hidden temperature lowered this many times (default: 10 if the "
        "model has one, as in the paper, else 1)",
    )
    r.add_argument("--steps", type=int, default=15)
    r.add_argument("--dt", type=float, default=0.4)
    r.add_argument(
        "--noise", type=float, default=1.0, help="std of the initial image state"
    )
    r.add_argument(
        "--amplitude",
        type=float,
        default=20.0,
        help="clamped label state = amplitude * one-hot (default %(default)s)",
    )
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", default="hamax-output/retrieve")

    rep = sub.add_parser(
        "reproduce", help="train the paper's models and write a results table"
    )
    common(rep, "hamax-output/reproduce")
    rep.add_argument(
        "--models",
        nargs="+",
        default=["hn_relu_mnist", "hn_softmax_mnist", "conv_ham_mnist"],
        choices=list(CLASSIFIERS),
    )
    rep.add_argument("--epochs", type=int, default=10)
    rep.add_argument("--augment", action="store_true")
    return p


def _load_checkpoint(path: str):
    from . import _checkpoint
    from .training import adamw, build_classifier, init_opt_state

    meta = _checkpoint.read_meta(path)
    model = meta.get("model")
    if model not in CLASSIFIERS:
        raise ValueError(f"{path} does not name a zoo model (meta: {meta}).")
    ham = build_classifier(model, meta.get("hyperparams"), seed=meta.get("seed", 0))
    (ham, _), meta = _checkpoint.load(path, (ham, init_opt_state(ham, adamw())))
    return ham, meta


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `hamax` command; returns the exit code."""
    args = _parser().parse_args(argv)
    from . import _apps
    from ._checkpoint import CheckpointError
    from .data import ChecksumError, DataUnavailableError

    try:
        if args.command == "demo":
            _apps.run_demo(
                args.out,
                data=args.data,
                model=args.model,
                epochs=args.epochs,
                seed=args.seed,
            )
        elif args.command == "train":
            from .data import AUGMENTATIONS
            from .training import train_classifier

            if args.distributed:
                import jax

                jax.distributed.initialize()
            spec = CLASSIFIERS[args.model]
            arrays = _apps.load_dataset(spec.dataset, args.data)
            res = train_classifier(
                args.model,
                arrays,
                epochs=args.epochs,
                batch_size=args.batch_size,
                learning_rate=args.lr,
                seed=args.seed,
                out_dir=args.out,
                resume=not args.no_resume,
                max_batches=args.max_batches,
                checkpoint_every=args.checkpoint_every,
                augment=AUGMENTATIONS[spec.dataset] if args.augment else None,
            )
            print(
                f"test accuracy: {100 * res.history[-1]['test_accuracy']:.2f}% "
                f"(checkpoint: {res.checkpoint})"
            )
        elif args.command == "eval":
            from .training import evaluate, standardize

            ham, meta = _load_checkpoint(args.checkpoint)
            spec = CLASSIFIERS[meta["model"]]
            arrays = _apps.load_dataset(spec.dataset, args.data)
            m = evaluate(
                ham,
                meta["model"],
                standardize(arrays["x_test"], spec.dataset),
                arrays["y_test"],
            )
            print(
                f"{meta['model']} (epoch {meta['epoch']}): test accuracy "
                f"{100 * m['accuracy']:.2f}%, loss {m['loss']:.4f}"
            )
        elif args.command == "retrieve":
            import pathlib

            import matplotlib

            matplotlib.use("Agg")
            src = pathlib.Path(args.checkpoint)
            if src.is_dir():
                if not (src / "checkpoint.eqx").is_file():
                    raise ValueError(
                        f"{src} is a directory without a model (no checkpoint.eqx "
                        "in it); pass a run directory written by `hamax train "
                        "--out DIR` or the checkpoint file itself."
                    )
                src = src / "checkpoint.eqx"
            ham, meta = _load_checkpoint(str(src))
            path = _apps.retrieval_figure(
                ham,
                meta["model"],
                pathlib.Path(args.out),
                labels=args.labels,
                beta_scale=args.beta_scale,
                steps=args.steps,
                dt=args.dt,
                noise=args.noise,
                amplitude=args.amplitude,
                seed=args.seed,
            )
            print(f"wrote {path} and {path.with_suffix('.npz')}")
        elif args.command == "reproduce":
            _apps.run_reproduce(
                args.out,
                models=args.models,
                epochs=args.epochs,
                data=args.data,
                seed=args.seed,
                augment=args.augment,
            )
    except (
        DataUnavailableError,
        ChecksumError,
        CheckpointError,
        FileNotFoundError,
        ValueError,
    ) as e:
        print(f"hamax {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hamax {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
