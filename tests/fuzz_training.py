"""Fuzz properties of hamax.training.train: tiny HAMs, bad batch sizes, labels,
learning rates, epochs and NaN data, under Classification, Completion and Joint.
Each case ends in a finished run with finite metrics, a run stopped with a
status that says why, or a clear error naming the bad value."""

import math
import pathlib
import tempfile
import warnings

import jax.numpy as jnp
import numpy as np
from hypothesis import given, strategies as st

import hamax
from hamax import training

from .fuzz_common import Counter, check_clear, examples, small_ham


HAM = small_ham()
OBJECTIVES = {
    "cls": training.Classification(steps=2),
    "cmp": training.Completion(
        target="image", mask=jnp.array([True, True, False, False]), steps=2
    ),
    "cmp_given": training.Completion(target="image", given=("label",), steps=2),
    "joint": training.Joint(
        (
            training.Classification(steps=2),
            training.Completion(target="image", given=("label",), steps=2),
        )
    ),
}


def _data(n, kind, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = rng.integers(0, 2, size=n)
    hint = None
    if kind == "nan" and n:
        x[seed % n, seed % 4] = np.nan
        hint = f"['image'][{seed % n}]"
    elif kind == "inf" and n:
        x[seed % n, 0] = np.inf
        hint = f"['image'][{seed % n}]"
    elif kind == "label_high" and n:
        y[seed % n] = 2 + seed % 50
        hint = str(int(y[seed % n]))
    elif kind == "label_neg" and n:
        y[seed % n] = -1
        hint = "-1"
    elif kind == "label_float":
        y = y.astype(np.float32) + 0.5
        hint = "label"
    elif kind == "short_labels":
        y = y[: max(0, n - 1)]
        hint = "length"
    elif kind == "wrong_shape":
        x = x[:, :3]
        hint = "image"
    elif kind == "missing":
        return {"image": x}, "label"
    return {"image": x, "label": y}, hint


BAD = {
    "batch_size": [1, 0, -2, 2.5, True, 10**6, np.int64(2)],
    "lr": [0.0, -1e-3, math.nan, math.inf, "fast", 1],
    "epochs": [2, 0, -1, 1.5, np.int32(1)],
}


@examples(16)
@given(
    objective=st.sampled_from(sorted(OBJECTIVES)),
    n=st.sampled_from([6, 9, 9, 0, 1]),
    kind=st.sampled_from(
        ["ok"] * 6
        + [
            "nan",
            "inf",
            "label_high",
            "label_neg",
            "label_float",
            "short_labels",
            "wrong_shape",
            "missing",
        ]
    ),
    bad=st.sampled_from([None, None, None, "batch_size", "lr", "epochs"]),
    value=st.integers(0, 100),
    to_disk=st.booleans(),
    seed=st.integers(0, 2**16),
)
def _train(counter, objective, n, kind, bad, value, to_disk, seed):
    args = {"batch_size": 3, "lr": 1e-2, "epochs": 1}
    if bad is not None:
        args[bad] = BAD[bad][value % len(BAD[bad])]
    batch_size, lr, epochs = args["batch_size"], args["lr"], args["epochs"]
    counter.tick()
    data, hint = _data(n, kind, seed)
    out = pathlib.Path(tempfile.mkdtemp()) / "run" if to_disk else None
    try:
        # The old `learning_rate` keyword: the fuzz drives its validation.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            res = training.train(
                HAM,
                OBJECTIVES[objective],
                data,
                epochs=epochs,
                batch_size=batch_size,
                learning_rate=lr,
                seed=seed,
                run=None if out is None else training.RunDir(out),
                progress=False,
                limits=training.Limits(batches=2),
            )
    except Exception as e:  # noqa: BLE001 - the property is about which errors
        check_clear(e, "train", "batch[", wrong_type=True)
        if bad is None and kind in ("nan", "inf", "label_high") and n >= 3:
            assert hint in str(e), f"{kind}: {e}"
        _debug(f"ERR {type(e).__name__}: {str(e)[:150]}")
        return
    _debug(f"RAN {objective} {kind} {res.status}")
    # Accepted: every argument was valid, and the run says how it ended.
    assert not isinstance(batch_size, bool) and 1 <= batch_size <= n, batch_size
    assert isinstance(lr, float | int) and math.isfinite(lr) and lr > 0, lr
    assert isinstance(epochs, int | np.integer) and epochs >= 1, epochs
    # Completion of the image alone reads no labels.
    unread = objective == "cmp" and kind.startswith(("label", "missing"))
    assert kind == "ok" or unread, f"bad data ({kind}) accepted"
    if res.status == "completed":
        assert len(res.history) == epochs
        for row in res.history:
            assert all(
                math.isfinite(v) for v in row.values() if isinstance(v, float)
            ), row
        leaves = [np.asarray(v) for v in _arrays(res.ham)]
        assert all(np.isfinite(v).all() for v in leaves), "non-finite parameters"
    else:
        assert res.status is training.TrainStatus.nonfinite, res.message
    if out is not None:
        names = {p.name for p in out.iterdir()}
        assert not any(name.endswith(".tmp") for name in names), names
        if res.status == "completed":
            assert {"model.eqx", "checkpoint.eqx"} <= names, names
            assert hamax.load_model(out) is not None


def _debug(msg):
    import os

    if os.environ.get("HAMAX_FUZZ_DEBUG"):
        print(msg)


def _arrays(tree):
    import equinox as eqx
    import jax

    return jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))


def test_fuzz_train():
    counter = Counter("training.train")
    _train(counter)
    counter.done(15)
