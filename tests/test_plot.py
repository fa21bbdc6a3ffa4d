import matplotlib


matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from hamax.plot import plot_energy, plot_history, plot_image_grid  # noqa: E402


def test_plots_return_axes():
    E = np.cumsum(-np.abs(np.random.default_rng(0).normal(size=(3, 10))), axis=1)
    E[:, -2:] = np.nan  # unused trajectory slots are NaN and are dropped
    assert isinstance(plot_energy(E), Axes)
    assert isinstance(plot_energy(E[0], label="one"), Axes)
    ax = plot_image_grid(
        np.random.default_rng(0).random((5, 4, 4)), titles=list("abcde"), ncols=3
    )
    assert isinstance(ax, Axes)
    grid = ax.get_images()[0].get_array()
    assert grid.shape == (2 * 5 - 1, 3 * 5 - 1)  # 2 rows x 3 columns with 1-pixel gaps
    rgb = plot_image_grid(np.random.default_rng(0).random((4, 3, 3, 3)))
    assert rgb.get_images()[0].get_array().shape == (7, 7, 3)  # 2 x 2 tiles of 3 + gaps
    hist = [
        {"epoch": 1, "train_accuracy": 0.5, "test_accuracy": 0.4},
        {"epoch": 2, "train_accuracy": 0.7, "test_accuracy": 0.6},
    ]
    assert isinstance(plot_history(hist), Axes)
