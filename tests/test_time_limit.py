"""`time_limit` / `--time-limit`: a run stops before an epoch that would not end
in time, checkpointed, and the same call continues it bit for bit."""

import pathlib

import jax
import jax.random as jr
import numpy as np
import pytest

from hamax import training as T
from hamax._cli import main

from .test_trainer import three_layer_ham


MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="module")
def small():
    with np.load(MNIST) as f:
        x, y = f["x_train"][:400], f["y_train"][:400].astype(np.int32)
    return {"image": T.standardize(x, "mnist"), "label": y}


def _train(data, out, epochs, **kw):
    return T.train(
        three_layer_ham(jr.key(0)),
        T.Classification(dt=0.5, steps=3),
        data,
        epochs=epochs,
        batch_size=100,
        out_dir=out,
        progress=False,
        **kw,
    )


def test_time_limit_stops_checkpointed_and_the_same_call_continues(small, tmp_path):
    # A limit shorter than any epoch: the first epoch always runs, the second
    # would end past the limit, so the run stops before it.
    res = _train(small, tmp_path / "chunks", 3, time_limit=1e-6)
    assert res.status == (
        "stopped: time limit (1e-06 s) before epoch 2; run again to continue"
    )
    assert [r["epoch"] for r in res.history] == [1]
    res = _train(small, tmp_path / "chunks", 3, time_limit=1e-6)
    assert [r["epoch"] for r in res.history] == [1, 2]
    res = _train(small, tmp_path / "chunks", 3, time_limit=3600.0)
    assert res.status == "completed" and len(res.history) == 3
    whole = _train(small, tmp_path / "whole", 3)
    for p, q in zip(
        jax.tree_util.tree_leaves(res.ham), jax.tree_util.tree_leaves(whole.ham)
    ):
        assert (np.asarray(p) == np.asarray(q)).all()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_time_limit_is_refused(small, tmp_path, bad):
    with pytest.raises(ValueError, match=r"`time_limit` to be a number of seconds > 0"):
        _train(small, tmp_path, 1, time_limit=bad)
    assert not (tmp_path / "checkpoint.eqx").exists()


def test_cli_time_limit_exit_code_and_continue(tmp_path, capsys):
    with np.load(MNIST) as f:
        d = {k: f[k][:800] for k in ("x_train", "y_train", "x_test", "y_test")}
    npz = tmp_path / "mnist.npz"
    np.savez(npz, **d)
    argv = ["train", "--model", "hn_relu_mnist", "--data", str(npz), "--epochs", "2"]
    argv += ["--max-batches", "1", "--no-plots", "--out", str(tmp_path / "run")]
    assert main([*argv, "--time-limit", "1e-9"]) == 4
    err = capsys.readouterr().err
    assert "hamax train: stopped: time limit (6e-08 s) before epoch 2" in err
    assert "the same command continues the run" in err
    assert main([*argv, "--time-limit", "1e-9"]) == 0  # epoch 2, the last
    assert "epoch 2/2" in capsys.readouterr().err
    rep = ["reproduce", "--data", str(npz), "--models", "hn_relu_mnist"]
    rep += ["--max-batches", "1", "--epochs", "2", "--out", str(tmp_path / "rep")]
    assert main([*rep, "--time-limit", "1e-9"]) == 4
    assert "| hn_relu_mnist | 1 |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main([*argv, "--time-limit", "-1"])
    assert e.value.code == 2
    assert "argument --time-limit: expected a finite number > 0, got -1" in (
        capsys.readouterr().err
    )
