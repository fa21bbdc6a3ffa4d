"""`TrainResult.status` is a `TrainStatus` enumeration (issue #25): matched by
value, with the details in `TrainResult.message`; the free-text spellings of
earlier versions still answer, with a DeprecationWarning."""

import jax.random as jr
import numpy as np
import pytest

from hamax import training as T
from hamax.training import _trainer

from .test_trainer import three_layer_ham


def _data(n=40):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 784)).astype(np.float32)
    return {"image": x, "label": rng.integers(0, 10, n).astype(np.int32)}


def _train(out, **kw):
    return T.train(
        three_layer_ham(jr.key(0)),
        T.Classification(dt=0.5, steps=2),
        _data(),
        epochs=2,
        batch_size=20,
        run=None if out is None else T.RunDir(out),
        progress=False,
        **kw,
    )


def test_members_are_matched_by_value():
    assert [s.value for s in T.TrainStatus] == [
        "completed",
        "time_limit",
        "nonfinite",
        "interrupted",
    ]
    assert T.TrainStatus("time_limit") is T.TrainStatus.time_limit
    assert T.TrainStatus.completed == "completed"
    assert str(T.TrainStatus.nonfinite) == "nonfinite"
    assert {T.TrainStatus.completed: 1}[T.TrainStatus("completed")] == 1
    with pytest.raises(ValueError, match="'done' is not a valid TrainStatus"):
        T.TrainStatus("done")


def test_old_free_text_spellings_warn():
    status = T.TrainStatus.time_limit
    with pytest.warns(DeprecationWarning, match="compare it with TrainStatus.time"):
        assert "time limit" in status
    with pytest.warns(DeprecationWarning, match="TrainStatus.nonfinite, or search"):
        assert "time limit" not in T.TrainStatus.nonfinite
    with pytest.warns(DeprecationWarning, match="never 'stopped: non-finite loss"):
        assert T.TrainStatus.nonfinite != "stopped: non-finite loss at epoch 1"


def test_completed_and_interrupted(tmp_path, monkeypatch):
    res = _train(tmp_path / "done")
    assert res.status is T.TrainStatus.completed and res.message == "completed"
    assert len(res.history) == 2

    # Ctrl-C during the first epoch's evaluation: train returns, unlocked, with
    # the status saying so; the run directory then resumes as any other.
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_trainer, "evaluate", interrupt)
    out = tmp_path / "stopped"
    res = T.train(
        three_layer_ham(jr.key(0)),
        T.Classification(dt=0.5, steps=2),
        _data(),
        test_data=_data(20),
        epochs=2,
        batch_size=20,
        run=None if out is None else T.RunDir(out),
        progress=False,
    )
    assert res.status is T.TrainStatus.interrupted
    assert res.message == "stopped: interrupted; no checkpoint was written yet"
    assert res.history == []
    monkeypatch.undo()
    assert T.RunDir(out).acquire() == []  # the lock was released


def test_reproduce_reads_the_statuses_of_earlier_results_files():
    # results.json keeps other models' rows, written by earlier versions as text.
    from hamax._cli._reproduce import _status

    assert _status("completed") is T.TrainStatus.completed
    assert _status("time_limit") is T.TrainStatus.time_limit
    old = "stopped: time limit (60 s) before epoch 3"
    assert _status(old) is T.TrainStatus.time_limit
    old = "stopped: non-finite loss at epoch 1, batch 2"
    assert _status(old) is T.TrainStatus.nonfinite
