import json

import numpy as np
import pytest

from hamax._cli import main

from .test_training import synthetic_mnist


@pytest.fixture
def tiny_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, **synthetic_mnist(440, 60))
    return path


def test_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    assert "train" in capsys.readouterr().out


@pytest.mark.slow
def test_train_eval_retrieve_roundtrip(tiny_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "hn_relu_mnist",
                "--data",
                str(tiny_npz),
                "--epochs",
                "1",
                "--out",
                str(out),
                "--max-batches",
                "1",
            ]
        )
        == 0
    )
    assert "test accuracy:" in capsys.readouterr().out
    assert (out / "checkpoint.eqx").exists() and (out / "metrics.json").exists()
    assert main(["eval", str(out / "checkpoint.eqx"), "--data", str(tiny_npz)]) == 0
    assert "hn_relu_mnist (epoch 1): test accuracy" in capsys.readouterr().out
    assert (
        main(
            [
                "retrieve",
                str(out / "checkpoint.eqx"),
                "--out",
                str(tmp_path / "r"),
                "--steps",
                "5",
            ]
        )
        == 0
    )
    assert (tmp_path / "r" / "retrieved.png").stat().st_size > 1000


@pytest.mark.slow
def test_demo_writes_plots(tiny_npz, tmp_path, capsys):
    assert (
        main(
            [
                "demo",
                "--data",
                str(tiny_npz),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "demo"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "test accuracy (MNIST from" in out
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    for p in summary["plots"]:
        assert p.endswith(".png")
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_errors_are_one_line_not_tracebacks(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.eqx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hamax eval: error: Checkpoint") and "does not exist" in err
    (tmp_path / "bad.eqx").write_bytes(b"not a checkpoint")
    assert main(["eval", str(tmp_path / "bad.eqx")]) == 2
    assert "is not a hamax checkpoint" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--model",
                "hn_relu_mnist",
                "--data",
                str(tmp_path / "none.npz"),
                "--epochs",
                "1",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 2
    )
    assert "hamax train: error: MNIST file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", "nope"])
    assert e.value.code == 2
