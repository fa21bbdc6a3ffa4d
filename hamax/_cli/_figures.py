"""The figures `hamax train|demo|retrieve` write: metrics, energy, retrieval."""

import io
import pathlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from .._ham import HAM
from .._io._atomic import atomic_write_bytes
from ..dynamics import Save
from ..dynamics._descend import descend
from ..memory import RecallOutcome, recall_labels
from ..memory._outcome import readable_synapse
from ..memory._retrieve import temperature_params
from ..plot import plot_energy
from ..training import standardize
from ..zoo import CLASSIFIERS


def savefig(fig, path: pathlib.Path) -> None:
    """Write a matplotlib figure atomically (format from the suffix)."""
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix[1:], dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())


def _layers(model: str | None, image: str | None, label: str | None):
    spec = CLASSIFIERS.get(model or "")
    return (
        image or (spec.image if spec else "image"),
        label or (spec.label if spec else "label"),
    )


def metrics_figures(history: list[dict], out: pathlib.Path) -> list[pathlib.Path]:
    """`loss.png` (every `*loss` column) and `accuracy.png` (every `*accuracy`
    column, when there is one) from a training history, train and test curves
    on the same axes; returns the paths written."""
    import matplotlib.pyplot as plt  # optional dependency (the `plot` extra)

    epochs = [r["epoch"] for r in history]
    written = []
    for kind in ("loss", "accuracy"):
        cols = [
            k
            for k in dict.fromkeys(k for r in history for k in r)
            if k.endswith(kind) and k.startswith(("train_", "test_"))
        ]
        if not cols:
            continue
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for k in cols:
            ax.plot(epochs, [r.get(k, np.nan) for r in history], "o-", label=k)
        ax.set_xlabel("epoch")
        ax.set_ylabel(kind)
        ax.legend(fontsize=8)
        path = out / f"{kind}.png"
        savefig(fig, path)
        plt.close(fig)
        written.append(path)
    return written


def energy_figure(
    ham: HAM,
    model: str | None,
    images: np.ndarray,
    out: pathlib.Path,
    steps: int = 60,
    *,
    image: str | None = None,
    dt: float | None = None,
    used_steps: int | None = None,
) -> pathlib.Path:
    """`energy.png`: the energy during classification (image clamped) for a few
    test images, over `steps` steps; the classifier's own depth is marked.
    `image`, `dt`, `used_steps` default to the zoo model's."""
    import matplotlib.pyplot as plt  # optional dependency (the `plot` extra)

    spec = CLASSIFIERS.get(model or "")
    image = _layers(model, image, None)[0]
    dt = dt if dt is not None else (spec.dt if spec else 0.1)
    used_steps = used_steps if used_steps is not None else (spec.steps if spec else 0)
    x = jnp.asarray(images).reshape(len(images), *ham.neurons[image].shape)
    x0 = ham.init_states(dtype=x.dtype)

    def one(img):
        return descend(
            ham,
            {**x0, image: img},
            dt=dt,
            steps=steps,
            clamp=[image],
            save=Save(energy=True),
            throw=False,
        ).energies

    E = np.asarray(jax.jit(jax.vmap(one))(x))
    # Each image has its own constant clamped-layer energy; show the descent.
    E = E - E[:, :1]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    name = model or "model"
    plot_energy(E, ax, title=f"{name}: E(t) - E(0), image clamped (dt={dt})")
    if used_steps:
        ax.axvline(used_steps, ls="--", c="gray", lw=1)
        ax.text(
            used_steps,
            ax.get_ylim()[1],
            " steps used to classify",
            va="top",
            fontsize=8,
        )
    path = out / "energy.png"
    savefig(fig, path)
    plt.close(fig)
    return path


class Retrieval(NamedTuple):
    """What `retrieval_with_energies` wrote and computed."""

    png: pathlib.Path
    labels: np.ndarray  # the clamped labels, (n,)
    energies: np.ndarray  # the energy at each step of each retrieval, (n, steps + 1)
    outcome: RecallOutcome | None = None  # what each recall found, when readable


def retrieval_figure(
    ham: HAM, model: str | None, out: pathlib.Path, **kw: Any
) -> pathlib.Path:
    """`retrieval_with_energies`' figure alone: returns the png's path."""
    return retrieval_with_energies(ham, model, out, **kw).png


def retrieval_with_energies(
    ham: HAM,
    model: str | None,
    out: pathlib.Path,
    *,
    labels=None,
    beta_scale: float | None = None,
    steps: int = 15,
    dt: float = 0.4,
    noise: float = 0.1,
    amplitude: float = 20.0,
    seed: int = 0,
    image: str | None = None,
    label: str | None = None,
) -> Retrieval:
    """The paper's Figure 2: clamp each label, start the image from noise, descend
    (defaults: the paper's recipe). Writes `retrieved.png` (energy curves and
    the image layer's activations, each image on its own colour scale with a
    colour bar, as the paper shows them) and `retrieved.npz`
    (`images`, `labels`, `energies`) in `out`; returns the png's path with the
    labels and energies (so callers need not read the npz back).

    `beta_scale=None` means 10 (the paper's) if the HAM has a hidden temperature,
    else 1. `image`, `label` default to the zoo model's layers, else "image" and
    "label". Arguments are checked before anything is written.
    """
    import matplotlib.pyplot as plt  # optional dependency (the `plot` extra)

    image, label = _layers(model, image, label)
    if beta_scale is None:
        beta_scale = 10.0 if temperature_params(ham) else 1.0
    if labels is None and label in ham.neurons:
        labels = list(range(ham.neurons[label].shape[0]))
    try:  # outcomes need memories the HAM's synapses make readable
        report = image in readable_synapse(ham, None)[0]
    except ValueError:
        report = False
    got: tuple[Any, ...] = recall_labels(
        ham,
        labels,
        image=image,
        label=label,
        amplitude=amplitude,
        noise=noise,
        beta_scale=beta_scale,
        dt=dt,
        steps=steps,
        report=report,
        key=jr.key(seed),
    )
    imgs_j, E_j = got[0], got[1]
    outcome = got[2] if report else None
    imgs = np.asarray(imgs_j, np.float32)
    labels = np.asarray(labels, np.int64)
    E = np.asarray(E_j)
    show, rgb = displayable(imgs)
    n = len(labels)
    fig = plt.figure(figsize=(3.5 + 1.1 * n, 2.6))
    grid = fig.add_gridspec(1, n + 3)
    plot_energy(E - E[:, :1], fig.add_subplot(grid[0, :3]), title="E(t) - E(0)")
    for i in range(n):
        # As the paper shows them: each image on its own colour scale, with a
        # colour bar giving the tanh activations' range.
        ax = fig.add_subplot(grid[0, 3 + i])
        ax.set_title(f"label {labels[i]}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if rgb:
            # Colour: each image min-max scaled to [0, 1] (no single colour bar).
            x = show[i]
            ax.imshow((x - x.min()) / max(float(x.max() - x.min()), 1e-12))
            continue
        im = ax.imshow(show[i].squeeze(), cmap="viridis")
        bar = fig.colorbar(im, ax=ax, orientation="horizontal", fraction=0.08, pad=0.04)
        bar.ax.tick_params(labelsize=5, rotation=90)
    fig.suptitle(
        f"label clamped, image from noise ({noise}): beta x {beta_scale:g}, "
        f"{steps} steps of dt {dt}",
        fontsize=9,
    )
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez(buf, images=imgs, labels=labels, energies=E)
    atomic_write_bytes(out / "retrieved.npz", buf.getvalue())
    path = out / "retrieved.png"
    savefig(fig, path)
    plt.close(fig)
    return Retrieval(path, labels, E, outcome)


def displayable(imgs: np.ndarray) -> tuple[np.ndarray, bool]:
    """Images `(n, ...)` as `imshow` takes them, and whether they are colour.

    An image layer may be flat, as in the paper's HNs (784 values for MNIST,
    3072 = 32 x 32 x 3 for CIFAR-10): a flat layer of s * s values is shown as
    an s x s grey image, one of 3 * s * s as an s x s colour image (channels
    last, as `hamax.data` loads them). Shaped layers keep their shape, with a
    last axis of 1 dropped. Any other flat size is shown as one row.
    """
    n = len(imgs)
    if imgs.ndim == 2:
        size = imgs.shape[1]
        grey = int(round(np.sqrt(size)))
        colour = int(round(np.sqrt(size / 3)))
        if grey * grey == size:
            return imgs.reshape(n, grey, grey), False
        if 3 * colour * colour == size:
            return imgs.reshape(n, colour, colour, 3), True
        return imgs.reshape(n, 1, size), False
    if imgs.ndim == 4 and imgs.shape[-1] == 3:
        return imgs, True
    if imgs.ndim == 4 and imgs.shape[-1] == 1:
        return imgs[..., 0], False
    if imgs.ndim == 3:
        return imgs, False
    raise ValueError(
        f"cannot draw images of shape {imgs.shape[1:]}: expected a flat layer, "
        "(h, w), (h, w, 1) or (h, w, 3)."
    )


def rising_labels(labels, energies: np.ndarray) -> list[int]:
    """The labels whose retrieval energy rose beyond float32 round-off at some
    step (an unstable descent: dt too large for the model)."""
    E = np.asarray(energies, np.float64)
    tol = 64 * np.finfo(np.float32).eps * (1 + np.abs(E[:, :-1]))
    rose: list[bool] = list(np.any(np.diff(E, axis=1) > tol, axis=1))
    return [int(lab) for lab, r in zip(np.ravel(labels), rose) if r]


def train_plots(
    run_dir: pathlib.Path,
    ham,
    model: str,
    history: list[dict],
    test_images: np.ndarray,
    *,
    seed: int = 0,
) -> list[pathlib.Path]:
    """The plots of a trained zoo classifier, written into `run_dir`:
    `accuracy.png` and `loss.png` (per epoch), `energy.png` (energy during
    classification of a few test images) and `retrieved.png` / `.npz` (Figure
    2 at the paper's recipe). Returns the paths of the pngs."""
    import matplotlib  # optional dependency (the `plot` extra)

    matplotlib.use("Agg")
    spec = CLASSIFIERS[model]
    paths = metrics_figures(history, run_dir)
    x = standardize(test_images[:32], spec.dataset)
    paths.append(energy_figure(ham, model, x, run_dir))
    paths.append(retrieval_figure(ham, model, run_dir, seed=seed))
    return paths
