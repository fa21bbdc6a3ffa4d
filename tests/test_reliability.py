"""Scale-out and faults: data parallelism, SIGKILL and resume, non-finite losses."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hamax import training as T
from hamax._io import _checkpoint

from .test_training import synthetic_mnist


ROOT = pathlib.Path(__file__).parent.parent
KW = dict(
    epochs=2, batch_size=40, hyperparams={"num_hidden": 16}, progress=False, seed=1
)


def run_child(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_data_parallel_equals_single_device(tmp_path):
    np.savez(tmp_path / "data.npz", **synthetic_mnist(160, 40))
    code = f"""
        import jax, json, numpy as np
        from hamax import training as T
        assert len(jax.devices()) == 4, jax.devices()
        data = dict(np.load({str(tmp_path / "data.npz")!r}))
        kw = dict(epochs=2, batch_size=40, hyperparams={{"num_hidden": 16}}, progress=False, seed=1)
        multi = T.train_classifier("hn_relu_mnist", data, **kw)
        single = T.train_classifier("hn_relu_mnist", data, devices=jax.devices()[:1], **kw)
        a = [np.asarray(w) for w in multi.ham.synapses["memories"].Ws]
        b = [np.asarray(w) for w in single.ham.synapses["memories"].Ws]
        sh = multi.ham.synapses["memories"].Ws[0].sharding
        print(json.dumps({{"maxdiff": max(float(np.abs(x - y).max()) for x, y in zip(a, b)),
                           "ndev": len(sh.device_set),
                           "acc": [multi.history[-1]["test_accuracy"], single.history[-1]["test_accuracy"]]}}))
    """
    r = run_child(
        code,
        {
            "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
            "JAX_PLATFORMS": "cpu",
        },
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["ndev"] == 4  # parameters live replicated on all four devices
    assert out["maxdiff"] < 1e-4  # same training, up to float32 reduction order
    assert abs(out["acc"][0] - out["acc"][1]) <= 0.05


def test_batch_must_split_over_devices():
    import jax

    data = synthetic_mnist(40, 10)
    with pytest.raises(
        ValueError,
        match=r"splits each batch over 2 devices, so batch_size must be a multiple of 2; got 39",
    ):
        T.train_classifier(
            "hn_relu_mnist",
            data,
            epochs=1,
            batch_size=39,
            devices=jax.devices()[:1] * 2,
            progress=False,
        )


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_is_identical(tmp_path):
    np.savez(tmp_path / "data.npz", **synthetic_mnist(200, 40))
    # The child checkpoints every 2 batches and kills itself (SIGKILL, no cleanup)
    # right after its fifth save (checkpoints at batches 2, 4 and the end of epoch
    # 1, model.eqx at the end of epoch 1, then the checkpoint at batch 2 of epoch
    # 2): in the middle of epoch 2 (5 batches per epoch).
    code = f"""
        import os, signal, numpy as np
        from hamax import training as T
        from hamax._io import _checkpoint
        real_save, calls = _checkpoint.save, []
        def save(*a, **k):
            real_save(*a, **k)
            calls.append(1)
            if len(calls) == 5:
                os.kill(os.getpid(), signal.SIGKILL)
        _checkpoint.save = save
        data = dict(np.load({str(tmp_path / "data.npz")!r}))
        T.train_classifier("hn_relu_mnist", data, run=T.RunDir({str(tmp_path / "run")!r}, checkpoint_every=2),
                           epochs=2, batch_size=40, hyperparams={{"num_hidden": 16}}, progress=False, seed=1)
    """
    r = run_child(code)
    assert r.returncode == -9, (r.returncode, r.stderr[-2000:])
    meta = _checkpoint.read_meta(tmp_path / "run" / "checkpoint.eqx")
    assert (meta["epoch"], meta["batch"]) == (1, 2)  # killed inside epoch 2
    # Resume and an uninterrupted run, in a fresh process like the killed one.
    code2 = f"""
        import json, numpy as np
        from hamax import training as T
        data = dict(np.load({str(tmp_path / "data.npz")!r}))
        kw = dict(epochs=2, batch_size=40, hyperparams={{"num_hidden": 16}}, progress=False, seed=1)
        resumed = T.train_classifier("hn_relu_mnist", data, run=T.RunDir({str(tmp_path / "run")!r}, checkpoint_every=2), **kw)
        straight = T.train_classifier("hn_relu_mnist", data, **kw)
        same = all(np.array_equal(a, b) for a, b in zip(resumed.ham.synapses["memories"].Ws, straight.ham.synapses["memories"].Ws))
        losses = [[r["train_loss"] for r in x.history] for x in (resumed, straight)]
        print(json.dumps({{"same": same, "losses": losses}}))
    """
    r2 = run_child(code2)
    assert r2.returncode == 0, r2.stderr[-3000:]
    out = json.loads(r2.stdout.strip().splitlines()[-1])
    assert out["same"]  # identical final parameters, bit for bit
    assert out["losses"][0] == out["losses"][1]  # no step lost or repeated


def test_nonfinite_loss_stops_cleanly(tmp_path):
    import optax

    data = synthetic_mnist(80, 20)
    ham = T.build_classifier("hn_relu_mnist", {"num_hidden": 16})
    objective = T.zoo_objective("hn_relu_mnist")
    train = {
        "image": T.standardize(data["x_train"], "mnist"),
        "label": data["y_train"].astype(np.int32),
    }
    # An optimiser that scales by NaN makes the first update non-finite: stop
    # before applying it, and say that no checkpoint was written yet.
    nan_optim = optax.scale(float("nan"))
    kw = dict(epochs=3, batch_size=KW["batch_size"], progress=False)
    res = T.train(ham, objective, train, optim=nan_optim, run=T.RunDir(tmp_path), **kw)
    assert res.status is T.TrainStatus.nonfinite
    assert res.message == "stopped: non-finite loss at epoch 1, batch 1"
    assert all(
        np.isfinite(np.asarray(w)).all() for w in res.ham.synapses["memories"].Ws
    )
    with pytest.raises(
        FloatingPointError,
        match=r"the loss became non-finite at epoch 1, batch 1 \(non-finite parameters: "
        r".synapses\['memories'\].Ws\[0\], .synapses\['memories'\].Ws\[1\]\); the "
        r"update was not applied; no checkpoint was written \(no run directory\)",
    ):
        T.train(ham, objective, train, optim=nan_optim, on_nonfinite="raise", **kw)
    with pytest.raises(
        ValueError,
        match=r"adamw expected `learning_rate` to be a finite number > 0 or an optax "
        r"schedule, got nan",
    ):
        T.train_classifier(
            "hn_relu_mnist", data, optim=T.adamw(float("nan")), **{**KW, "epochs": 3}
        )
    with (
        pytest.warns(DeprecationWarning, match=r"learning_rate -> optim"),
        pytest.raises(
            ValueError,
            match=r"train expected `learning_rate` to be a finite number > 0, got nan",
        ),
    ):
        T.train_classifier(
            "hn_relu_mnist", data, learning_rate=float("nan"), **{**KW, "epochs": 3}
        )
    with pytest.raises(
        ValueError, match=r"`on_nonfinite` to be 'stop' or 'raise', got 'ignore'"
    ):
        T.train_classifier("hn_relu_mnist", data, on_nonfinite="ignore", **KW)
