"""`hamax.training.standardize`: the statistic it applies, and every bad input."""

import numpy as np
import pytest

from hamax.training import standardize


def test_matches_the_formula_per_channel():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(3, 4, 4, 3), dtype=np.uint8)
    mean = np.array([0.4914, 0.4822, 0.4465])
    std = np.array([0.2470, 0.2435, 0.2616])
    want = (x.astype(np.float64) / 255 - mean) / std
    got = standardize(x, "cifar10")
    assert got.dtype == np.float32 and got.shape == (3, 4, 4, 3)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_grey_images_gain_a_channel_and_any_int_or_float_in_0_255_works():
    x = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    a = standardize(x.astype(np.uint8), "mnist")
    b = standardize(x.astype(np.int64), "mnist")
    c = standardize(x.astype(np.float32), "mnist")
    assert a.shape == (2, 28, 28, 1)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_allclose(a[0, 0, 0, 0], (0 - 0.1307) / 0.3081, rtol=1e-6)


@pytest.mark.parametrize(
    "images, dataset, match",
    [
        (
            np.zeros((2, 28, 28), np.uint8),
            "MNIST",
            r"unknown dataset 'MNIST'.*'cifar10', 'mnist'",
        ),
        (np.zeros((2, 28, 28), np.uint8), "cifar10", r"3 channel\(s\).*last axis of 3"),
        (
            np.zeros((2, 32, 32, 3), np.uint8),
            "mnist",
            r"1 channel\(s\).*\(n, h, w, 1\)",
        ),
        (np.zeros((2, 784), np.uint8), "mnist", r"shape \(2, 784\) do not fit 'mnist'"),
        (np.full((1, 2, 2), np.nan, np.float32), "mnist", "NaN or inf"),
        (np.full((1, 2, 2), 300.0), "mnist", r"span \[300, 300\].*0-255"),
        (np.full((1, 2, 2), -0.4), "mnist", r"already standardised"),
        (
            np.full((1, 2, 2), 0.5, np.float32),
            "mnist",
            r"already scaled to \[0, 1\].*images \* 255",
        ),
        (np.full((1, 2, 2), "a"), "mnist", "dtype <U1"),
    ],
)
def test_bad_input_is_named(images, dataset, match):
    with pytest.raises(ValueError, match=match):
        standardize(images, dataset)
