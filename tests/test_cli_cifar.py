"""The paper's CIFAR-10 HN, whose image layer is flat (3072,), through `hamax
train`, `eval` and `retrieve`: the figures draw a flat colour layer as 32 x 32 x 3
images (they used to end in a matplotlib `Invalid shape (3072,)` traceback)."""

import pathlib

import numpy as np
import pytest

from hamax._cli import main
from hamax._cli._figures import displayable

from .helpers import npz_slice


CIFAR = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10.npz"


@pytest.fixture(scope="module")
def small_cifar(tmp_path_factory):
    """400 training and 100 test images of the real CIFAR-10, as an .npz file."""
    return npz_slice(CIFAR, tmp_path_factory.mktemp("data") / "cifar10.npz", 400, 100)


def test_flat_cifar_hn_trains_evaluates_and_retrieves(small_cifar, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--model", "hn_relu_cifar10", "--data", str(small_cifar)]
    assert main([*argv, "--epochs", "1", "--max-batches", "1", "--out", str(run)]) == 0
    for name in ("model.eqx", "metrics.csv", "energy.png", "retrieved.png"):
        assert (run / name).stat().st_size > 0, name
    with np.load(run / "retrieved.npz") as f:
        assert f["images"].shape == (10, 3072)
    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(small_cifar)]) == 0
    assert "on the cifar10 test set: loss " in capsys.readouterr().out
    out = tmp_path / "retrieved"
    assert main(["retrieve", str(run), "--labels", "3", "5", "--out", str(out)]) == 0
    assert (out / "retrieved.png").stat().st_size > 0
    assert "Traceback" not in capsys.readouterr().err


def test_displayable_shapes():
    flat_grey = np.zeros((2, 784))
    flat_colour = np.arange(2 * 3072.0).reshape(2, 3072)
    img, rgb = displayable(flat_grey)
    assert img.shape == (2, 28, 28) and not rgb
    img, rgb = displayable(flat_colour)
    assert img.shape == (2, 32, 32, 3) and rgb
    # Channels last, as hamax.data loads CIFAR-10: pixel (0, 0) is values 0..2.
    np.testing.assert_array_equal(img[0, 0, 0], [0.0, 1.0, 2.0])
    assert displayable(np.zeros((2, 28, 28, 1)))[0].shape == (2, 28, 28)
    assert displayable(np.zeros((2, 32, 32, 3)))[1]
    assert displayable(np.zeros((2, 10)))[0].shape == (2, 1, 10)
    with pytest.raises(ValueError, match=r"cannot draw images of shape \(2, 3, 4, 5\)"):
        displayable(np.zeros((1, 2, 3, 4, 5)))
