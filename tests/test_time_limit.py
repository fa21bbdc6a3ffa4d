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


def _train(data, out, epochs, time_limit=None, **kw):
    return T.train(
        three_layer_ham(jr.key(0)),
        T.Classification(dt=0.5, steps=3),
        data,
        epochs=epochs,
        batch_size=100,
        run=T.RunDir(out),
        limits=T.Limits(time=time_limit),
        progress=False,
        **kw,
    )


def test_time_limit_stops_checkpointed_and_the_same_call_continues(small, tmp_path):
    # A limit shorter than any epoch: the first epoch always runs, the second
    # would end past the limit, so the run stops before it.
    res = _train(small, tmp_path / "chunks", 3, time_limit=1e-6)
    assert res.status is T.TrainStatus.time_limit
    assert res.message == "stopped: time limit (1e-06 s) before epoch 2"
    assert [r["epoch"] for r in res.history] == [1]
    res = _train(small, tmp_path / "chunks", 3, time_limit=1e-6)
    assert [r["epoch"] for r in res.history] == [1, 2]
    res = _train(small, tmp_path / "chunks", 3, time_limit=3600.0)
    assert res.status == "completed" and len(res.history) == 3
    whole = _train(small, tmp_path / "whole", 3)
    # A resumed run's metrics keep the uninterrupted run's column order.
    heads = [
        (tmp_path / d / "metrics.csv").read_text().splitlines()[0]
        for d in ("chunks", "whole")
    ]
    assert heads == ["epoch,train_loss,train_accuracy,epoch_seconds"] * 2, heads
    for p, q in zip(
        jax.tree_util.tree_leaves(res.ham), jax.tree_util.tree_leaves(whole.ham)
    ):
        assert (np.asarray(p) == np.asarray(q)).all()


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_time_limit_is_refused(small, tmp_path, bad):
    with pytest.raises(
        ValueError,
        match=r"`time` \(train's old `time_limit`\) to be a "
        r"number of seconds > 0",
    ):
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
    assert err.count("stopped") == 1, err  # one line, the CLI's
    assert (
        "hamax train: stopped before epoch 2, which would not have ended within "
        f"--time-limit 1e-09 min; {tmp_path / 'run' / 'checkpoint.eqx'} holds "
        "epoch 1, and the same command continues the run." in err
    )
    assert main([*argv, "--time-limit", "1e-9"]) == 0  # epoch 2, the last
    assert "epoch 2/2" in capsys.readouterr().err
    assert main(argv) == 0
    assert f"train: {tmp_path / 'run'} is at epoch 2 of 2: nothing to train." in (
        capsys.readouterr().err
    )
    rep = ["reproduce", "--data", str(npz), "--models", "hn_relu_mnist"]
    rep += ["--max-batches", "1", "--epochs", "2", "--out", str(tmp_path / "rep")]
    assert main([*rep, "--time-limit", "1e-9"]) == 4
    cap = capsys.readouterr()
    assert "| hn_relu_mnist | 1 |" in cap.out
    assert (
        f"hamax reproduce: stopped before epoch 2, which would not have ended "
        f"within --time-limit 1e-09 min; {tmp_path / 'rep' / 'hn_relu_mnist'} "
        "holds epoch 1" in cap.err
    )
    with pytest.raises(SystemExit) as e:
        main([*argv, "--time-limit", "-1"])
    assert e.value.code == 2
    assert "argument --time-limit: expected a finite number > 0, got -1" in (
        capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as e:
        main([*argv, "--time-limit", "1e307"])
    assert e.value.code == 2
    assert "minutes whose seconds are finite, got '1e307'" in capsys.readouterr().err


def test_the_estimate_leaves_out_the_compiling_epoch():
    from hamax.training._report import out_of_time

    # One epoch of 8 s (it compiled): the next is estimated at 8 s.
    assert out_of_time(17.9, [0.0, 8.0], now=10.0)
    assert not out_of_time(18.1, [0.0, 8.0], now=10.0)
    # Later epochs of 1 s: the first is left out of the mean.
    assert out_of_time(10.9, [0.0, 8.0, 9.0, 10.0], now=10.0)
    assert not out_of_time(11.1, [0.0, 8.0, 9.0, 10.0], now=10.0)
    assert not out_of_time(None, [0.0, 8.0], now=1e9)
    assert not out_of_time(1.0, [0.0], now=1e9)  # the first epoch always runs
