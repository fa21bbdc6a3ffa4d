import math

import numpy as np

from ._plots import _axes


def _display_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    # A flattened square image (784 -> 28 x 28) is shown as a square.
    if len(shape) == 1 and math.isqrt(shape[0]) ** 2 == shape[0]:
        side = math.isqrt(shape[0])
        return (side, side)
    return shape


def plot_memories(memories, ax=None, *, cmap: str = "RdBu_r", title: str | None = None):
    """Draw the memories most associated with each label (a
    [`hamax.memory.LabelMemories`][]) as a grid: one row per label, strongest
    memory first, each tile its image weights on a colour scale symmetric about
    zero (red positive, blue negative), titled with its label weight.

    A flat image layer whose size is a square (784) is drawn as a square image.
    Returns the matplotlib `Axes`.
    """
    ax = _axes(ax)
    imgs = np.asarray(memories.images, dtype=float)
    n, k = imgs.shape[:2]
    shape = _display_shape(imgs.shape[2:])
    if len(shape) not in (2, 3):
        raise ValueError(
            f"plot_memories needs image weights that can be drawn as an image (2-D, "
            f"or 3-D with channels), got image shape {imgs.shape[2:]}."
        )
    imgs = imgs.reshape(n, k, *shape)
    if len(shape) == 3:  # channels: show their mean
        imgs = imgs.mean(-1)
    h, w = imgs.shape[2:]
    # Each tile on its own symmetric scale, so zero is the colour map's middle.
    scale = np.abs(imgs).reshape(n, k, -1).max(-1)[..., None, None]
    tiles = imgs / np.maximum(scale, 1e-12)
    grid = np.full((n * (h + 2) - 2, k * (w + 1) - 1), np.nan)
    for i in range(n):
        for j in range(k):
            grid[i * (h + 2) : i * (h + 2) + h, j * (w + 1) : j * (w + 1) + w] = tiles[
                i, j
            ]
    ax.imshow(grid, cmap=cmap, vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([i * (h + 2) + h / 2 for i in range(n)])
    ax.set_yticklabels([f"label {int(v)}" for v in np.asarray(memories.labels)])
    scores = np.asarray(memories.scores)
    for i in range(n):
        for j in range(k):
            ax.text(
                j * (w + 1) + w / 2,
                i * (h + 2) + h + 0.2,
                f"{scores[i, j]:.3g}",
                ha="center",
                va="top",
                fontsize=6,
            )
    ax.set_title(title or "memories most associated with each label (label weight)")
    return ax
