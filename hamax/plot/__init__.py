"""Plots (needs the `plot` extra, matplotlib): energy curves, image grids."""

from ._graph import plot_ham as plot_ham
from ._memories import plot_memories as plot_memories
from ._plots import (
    plot_energy as plot_energy,
    plot_history as plot_history,
    plot_image_grid as plot_image_grid,
)
