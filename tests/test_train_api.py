"""`train`'s strategy objects (`optim`, `run=RunDir(...)`, `limits=Limits(...)`)
against the old keywords they replace, which still work with a warning."""

import pathlib
import warnings

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

import hamax
from hamax import lagrangians as L, synapses as S, training as T
from hamax._io import _checkpoint
from hamax.training._strategies import resolve_optim, upgrade
from hamax.training._validate import check_strategies


MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


@pytest.fixture(scope="module")
def data():
    with np.load(MNIST) as f:
        x, y = f["x_train"][:120], f["y_train"][:120]
    return {"image": T.standardize(x, "mnist"), "label": y.astype(np.int32)}


def tiny_ham():
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), (28, 28, 1)),
        "hidden": hamax.NeuronLayer(L.ReLU(), 16),
        "label": hamax.NeuronLayer(L.Softmax(), 10),
    }
    synapses = {"s1": S.DenseSynapse(), "s2": S.DenseSynapse()}
    connections = [(("image", "hidden"), "s1"), (("hidden", "label"), "s2")]
    return hamax.HAM(neurons, synapses, connections, key=jr.key(0), dtype=jnp.float32)


OBJ = T.Classification(steps=2)
KW = dict(epochs=2, batch_size=40, progress=False)


def leaves(res):
    return [np.asarray(p) for p in jax.tree_util.tree_leaves(res.ham)]


def test_new_spelling_is_bit_identical_to_the_old(data, tmp_path):
    with pytest.warns(DeprecationWarning) as rec:
        old = T.train(
            tiny_ham(),
            OBJ,
            data,
            learning_rate=3e-3,
            weight_decay=1e-3,
            out_dir=tmp_path / "old",
            checkpoint_every=1,
            meta={"note": "x"},
            max_batches=2,
            time_limit=600,
            **KW,
        )
    assert len(rec) == 1  # one warning naming every new spelling
    msg = str(rec[0].message)
    for k in ("out_dir", "checkpoint_every", "meta", "max_batches", "time_limit"):
        assert k in msg, msg
    assert "run=RunDir(" in msg and "limits=Limits(" in msg and "adamw(" in msg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = T.train(
            tiny_ham(),
            OBJ,
            data,
            optim=T.adamw(3e-3, weight_decay=1e-3),
            run=T.RunDir(tmp_path / "new", checkpoint_every=1, meta={"note": "x"}),
            limits=T.Limits(time=600, batches=2),
            **KW,
        )
    for p, q in zip(leaves(old), leaves(new), strict=True):
        assert (p == q).all()
    a, b = (
        _checkpoint.read_meta(tmp_path / d / "checkpoint.eqx") for d in ("old", "new")
    )
    assert a["settings"] == b["settings"] and a["note"] == b["note"] == "x"
    assert b["settings"]["learning_rate"] == 3e-3
    assert b["settings"]["optimizer"] == "adamw"
    # An old run directory resumes with the new spelling (same settings): at
    # its last epoch already, so nothing more is trained.
    again = T.train(
        tiny_ham(),
        OBJ,
        data,
        optim=T.adamw(3e-3, weight_decay=1e-3),
        run=T.RunDir(tmp_path / "old"),
        limits=T.Limits(time=600, batches=2),
        **KW,
    )
    assert again.history == old.history
    for p, q in zip(leaves(old), leaves(again), strict=True):
        assert (p == q).all()


@pytest.mark.parametrize(
    "old",
    [
        {"out_dir": None},
        {"resume": False},
        {"force_resume": False},
        {"checkpoint_every": None},
        {"meta": None},
        {"time_limit": None},
        {"max_batches": None},
        {"optim_name": None},
        {"learning_rate": 1e-3},
        {"weight_decay": 1e-4},
    ],
)
def test_each_old_keyword_warns_once_naming_the_new(data, old):
    (k,) = old
    with pytest.warns(DeprecationWarning) as rec:
        T.train(tiny_ham(), OBJ, data, **{**KW, "epochs": 1}, **old)
    assert len(rec) == 1
    assert f"the keyword {k} is deprecated" in str(rec[0].message)


def test_recipe_as_optim_and_named_pairs(data, tmp_path):
    rec = T.Recipe("r", learning_rate=2e-3, schedule="cosine", warmup_epochs=0.5)
    res = T.train(tiny_ham(), OBJ, data, optim=rec, run=T.RunDir(tmp_path), **KW)
    saved = _checkpoint.read_meta(tmp_path / "checkpoint.eqx")["settings"]
    assert saved["optimizer"] == rec.describe(2)
    # The same optimiser by hand (3 batches a run of 2 epochs): identical.
    by_hand = T.train(tiny_ham(), OBJ, data, optim=(rec.optimizer(3, 2), "r"), **KW)
    for p, q in zip(leaves(res), leaves(by_hand), strict=True):
        assert (p == q).all()
    plain = T.train(tiny_ham(), OBJ, data, **KW)  # the default: constant AdamW
    assert any((p != q).any() for p, q in zip(leaves(res), leaves(plain)))


def test_bad_strategy_objects_are_refused_before_any_work(data, tmp_path):
    ham = tiny_ham()
    # Wrong types: a TypeError from train (the tests' type checker may get
    # there first), with these messages without it.
    with pytest.raises(TypeError, match=r"run"):
        T.train(ham, OBJ, data, run=str(tmp_path / "r"), **KW)
    with pytest.raises(TypeError, match=r"limits"):
        T.train(ham, OBJ, data, limits={"time": 3}, **KW)
    with pytest.raises(TypeError, match=r"`run` to be a hamax.training.RunDir or No"):
        check_strategies(str(tmp_path / "r"), None)
    with pytest.raises(TypeError, match=r"`limits` to be a hamax.training.Limits"):
        check_strategies(None, {"time": 3})
    with pytest.raises(TypeError, match=r"`optim` to be an optax transformation"):
        T.train(ham, OBJ, data, optim="adamw", **KW)
    with pytest.raises(TypeError, match=r"\(optax transformation, name\)"):
        T.train(ham, OBJ, data, optim=(T.adamw(), 3), **KW)
    for bad in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match=r"Limits expected `time`"):
            T.Limits(time=bad)
    for bad in (0, -2, True):
        with pytest.raises(ValueError, match=r"Limits expected `batches`"):
            T.Limits(batches=bad)
    # A wrong type: a TypeError (from the tests' type checker, or the check).
    with pytest.raises(TypeError, match=r"batches"):
        T.Limits(batches=1.5)
    with pytest.raises(ValueError, match=r"`checkpoint_every` to be an int >= 1"):
        T.RunDir(tmp_path, checkpoint_every=0)
    with pytest.raises(TypeError, match=r"resume"):
        T.RunDir(tmp_path, resume="yes")
    with pytest.raises(TypeError, match=r"meta"):
        T.RunDir(tmp_path, meta=[1])
    with pytest.raises(TypeError, match=r"path"):
        T.RunDir(None)
    with pytest.raises(
        TypeError,
        match=r"unexpected keyword argument 'out_dri'.*"
        r"Did you mean 'out_dir'",
    ):
        T.train(ham, OBJ, data, out_dri=tmp_path, **KW)
    with pytest.raises(
        TypeError,
        match=r"unexpected keyword argument 'limit'.*"
        r"Did you mean 'limits'",
    ):
        T.train(ham, OBJ, data, limit=T.Limits(), **KW)
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(
            TypeError,
            match=r"give "
            r"the run directory once",
        ),
    ):
        T.train(ham, OBJ, data, run=T.RunDir(tmp_path), out_dir=tmp_path, **KW)
    with (
        pytest.warns(DeprecationWarning),
        pytest.raises(
            TypeError,
            match=r"limits"
            r"=Limits\(time",
        ),
    ):
        T.train(ham, OBJ, data, limits=T.Limits(), time_limit=3, **KW)
    assert not any(tmp_path.iterdir())  # nothing was written
    assert "RunDir(" in repr(T.RunDir(tmp_path, meta={"a": 1}))


def test_train_classifier_forwards_the_strategy_objects(tmp_path):
    with np.load(MNIST) as f:
        d = {k: f[k][:80] for k in ("x_train", "y_train", "x_test", "y_test")}
    kw = dict(epochs=1, batch_size=40, progress=False, hyperparams={"num_hidden": 8})
    run = T.RunDir(tmp_path, meta={"who": "me"})
    new = T.train_classifier("hn_relu_mnist", d, run=run, optim="fast", **kw)
    with pytest.warns(DeprecationWarning) as rec:
        old = T.train_classifier(
            "hn_relu_mnist", d, recipe="fast", out_dir=tmp_path, resume=False, **kw
        )
    said = [str(w.message) for w in rec]
    assert len(said) == 2 and "recipe -> optim" in said[0], said
    assert "out_dir -> run=RunDir(out_dir)" in said[1], said
    for p, q in zip(leaves(old), leaves(new), strict=True):
        assert (p == q).all()
    meta = _checkpoint.read_meta(tmp_path / "checkpoint.eqx")
    assert (
        meta["model"] == "hn_relu_mnist"
        and "name=fast" in meta["settings"]["optimizer"]
    )
    with pytest.raises(ValueError, match=r"holds model 'hn_relu_mnist', not"):
        T.train_classifier("hn_softmax_mnist", d, run=T.RunDir(tmp_path), **kw)
    with pytest.raises(ValueError, match=r"Unknown recipe 'fats'"):
        T.train_classifier("hn_relu_mnist", d, optim="fats", **kw)
    with pytest.raises(
        TypeError,
        match=r"unexpected keyword argument 'hyperparms'"
        r".*Did you mean 'hyperparams'",
    ):
        T.train_classifier("hn_relu_mnist", d, epochs=1, hyperparms={})


@pytest.mark.parametrize(
    "old, optim, record",
    [
        ({}, None, (1e-3, 1e-4, "adamw")),
        ({"learning_rate": 3e-3}, None, (3e-3, 1e-4, "adamw")),
        ({"learning_rate": 3e-3, "optim_name": "f"}, None, (3e-3, 1e-4, "f")),
        ({"optim_name": "sgd"}, "sgd", (1e-3, 1e-4, "sgd")),
        (
            {"learning_rate": 2e-3},
            "sgd",
            (2e-3, 1e-4, "GradientTransformationExtraArgs"),
        ),
        ({}, "sgd", (1e-3, 1e-4, "GradientTransformationExtraArgs")),
    ],
)
def test_the_settings_record_of_the_old_spellings_is_unchanged(old, optim, record):
    """What the old trainer wrote for each old spelling, so that old run
    directories resume."""
    tx = optax.sgd(0.1) if optim == "sgd" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _, _, o = upgrade("train", old, None, None, tx, ())
    _, got = resolve_optim(o, 3, 2)
    assert (got["learning_rate"], got["weight_decay"], got["optimizer"]) == record


def test_the_new_spellings_record_what_the_old_did():
    cases = [
        (T.adamw(3e-3), (3e-3, 1e-4, "adamw")),
        (T.adamw(3e-3, weight_decay=0.0), (3e-3, 0.0, "adamw")),
        ((optax.sgd(0.1), "sgd"), (1e-3, 1e-4, "sgd")),
    ]
    for optim, record in cases:
        _, got = resolve_optim(optim, 3, 2)
        assert (got["learning_rate"], got["weight_decay"], got["optimizer"]) == record
    with pytest.raises(ValueError, match=r"adamw expected `learning_rate` to be a "):
        T.adamw(-1e-3)


def test_train_result_prints_short(data):
    res = T.train(tiny_ham(), OBJ, data, test_data=data, **KW)
    r = repr(res)
    # One line: status, epochs, the last epoch's metrics and the message; the
    # model and the optimiser state only by name (not every array and moment).
    assert r.startswith(
        "TrainResult(status=completed, epochs=2, last epoch: train_loss="
    )
    assert "test_accuracy=" in r and "ham=HAM(...)" in r and "checkpoint=None" in r
    assert "\n" not in r and len(r) < 400 and "opt_state" not in r
    empty = T.TrainResult(ham=tiny_ham(), history=[], checkpoint=None)
    assert repr(empty) == (
        "TrainResult(status=completed, epochs=0, ham=HAM(...), checkpoint=None, "
        "message='completed')"
    )


def test_uint8_images_for_a_flat_layer_are_not_called_labels():
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), 784),
        "label": hamax.NeuronLayer(L.Softmax(), 10),
    }
    ham = hamax.HAM(
        neurons, {"s": S.DenseSynapse()}, [(("image", "label"), "s")], key=jr.key(0)
    )
    raw = {
        "image": np.zeros((40, 784), np.uint8),
        "label": np.zeros(40, np.int32),
    }
    with pytest.raises(
        ValueError,
        match=r"integers of shape \(40, 784\) \(uint8\) in train_data\['image'\].*"
        r"read as class labels.*raw pixels.*standardize",
    ):
        T.train(ham, OBJ, raw, epochs=1, batch_size=40, progress=False)
