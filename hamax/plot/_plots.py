import numpy as np


def _axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(5, 3.5))[1]


def plot_energy(
    energies, ax=None, *, label: str | None = None, title: str = "Energy during descent"
):
    """Plot an energy trajectory (`solution.energies`, or a batch of them as rows,
    drawn as mean with a min-max band). Returns the matplotlib `Axes`."""
    ax = _axes(ax)
    E = np.asarray(energies, dtype=float)
    E = E[None] if E.ndim == 1 else E
    E = E[:, ~np.all(np.isnan(E), axis=0)]
    steps = np.arange(E.shape[1])
    ax.plot(steps, E.mean(0), label=label)
    if E.shape[0] > 1:
        ax.fill_between(steps, E.min(0), E.max(0), alpha=0.25)
    ax.set_xlabel("step")
    ax.set_ylabel("energy")
    ax.set_title(title)
    if label is not None:
        ax.legend()
    return ax


def plot_image_grid(
    images,
    ax=None,
    *,
    ncols: int | None = None,
    titles=None,
    cmap="gray",
    title: str | None = None,
):
    """Tile images `(n, h, w[, c])` into one picture (each scaled to [0, 1]).
    Returns the matplotlib `Axes`."""
    ax = _axes(ax)
    x = np.asarray(images, dtype=float)
    if x.ndim == 3:
        x = x[..., None]
    n, h, w, c = x.shape
    lo = x.reshape(n, -1).min(1)[:, None, None, None]
    hi = x.reshape(n, -1).max(1)[:, None, None, None]
    x = (x - lo) / np.maximum(hi - lo, 1e-12)
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.ones((nrows * (h + 1) - 1, ncols * (w + 1) - 1, c))
    for i in range(n):
        r, q = divmod(i, ncols)
        grid[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = x[i]
    ax.imshow(grid[..., 0] if c == 1 else grid, cmap=cmap if c == 1 else None)
    ax.set_xticks([])
    ax.set_yticks([])
    if titles is not None:
        for i, t in enumerate(titles):
            r, q = divmod(i, ncols)
            ax.text(
                q * (w + 1) + w / 2,
                r * (h + 1) - 0.5,
                str(t),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: list[dict], ax=None):
    """Plot train and test accuracy per epoch from a training history."""
    ax = _axes(ax)
    epochs = [r["epoch"] for r in history]
    ax.plot(epochs, [r["train_accuracy"] for r in history], "o-", label="train")
    ax.plot(epochs, [r["test_accuracy"] for r in history], "o-", label="test")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend()
    return ax
