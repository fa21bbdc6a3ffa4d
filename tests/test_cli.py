"""The `hamax` command line, in process, on a slice of the real MNIST."""

import argparse
import json
import pathlib

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import lagrangians as L, synapses as S, training as T
from hamax._cli import main, parser

from .helpers import npz_slice


MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_npz(tmp_path_factory):
    """800 training and 200 test images of the real MNIST, as an .npz file."""
    return npz_slice(MNIST, tmp_path_factory.mktemp("data") / "mnist.npz", 800, 200)


def _train_args(npz, out, *extra):
    return [
        "train",
        "--model",
        "hn_relu_mnist",
        "--data",
        str(npz),
        "--epochs",
        "1",
        "--max-batches",
        "1",
        "--out",
        str(out),
        *extra,
    ]


@pytest.fixture(scope="module")
def run_dir(small_npz, tmp_path_factory):
    """One `hamax train` run, shared by the tests that read it."""
    out = tmp_path_factory.mktemp("run")
    assert main(_train_args(small_npz, out)) == 0
    return out


def _actions(p: argparse.ArgumentParser):
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            for sub in a.choices.values():
                yield from _actions(sub)
        elif a.option_strings and a.dest not in ("help", "version") and not a.required:
            yield a


def test_help_version_and_exit_codes(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("train", "eval", "retrieve", "demo", "reproduce"):
        assert cmd in out
    assert "3  training stopped at a non-finite loss" in out
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"hamax {hamax.__version__}"
    # Every optional flag documents its default.
    flags = list(_actions(parser()))
    assert len(flags) > 25
    for a in flags:
        assert a.help and "%(default)s" in a.help, a.option_strings
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert "(default: 400)" in out and "0.001" in out
    assert "exit codes:" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "nope"], "argument --model: invalid choice: 'nope'"),
        (["train"], "the following arguments are required: --model"),
        (
            ["train", "--model", "hn_relu_mnist", "--epochs", "0"],
            "--epochs: expected a whole number >= 1, got 0",
        ),
        (
            ["train", "--model", "hn_relu_mnist", "--batch-size", "x"],
            "--batch-size: expected a whole number >= 1, got 'x'",
        ),
        (
            ["train", "--model", "hn_relu_mnist", "--max-batches", "-3"],
            "--max-batches: expected a whole number >= 1, got -3",
        ),
        (
            ["train", "--model", "hn_relu_mnist", "--checkpoint-every", "0"],
            "--checkpoint-every: expected a whole number >= 1, got 0",
        ),
        (
            ["train", "--model", "hn_relu_mnist", "--lr=-1e-3"],
            "--lr: expected a finite number > 0, got -0.001",
        ),
        (
            ["train", "--model", "hn_relu_mnist", "--lr", "nan"],
            "--lr: expected a finite number, got 'nan'",
        ),
        (
            ["train", "--model", "hn_relu_mnist", "--seed", "-1"],
            "--seed: expected a whole number >= 0, got -1",
        ),
        (["retrieve", "r", "--dt", "inf"], "--dt: expected a finite number, got 'inf'"),
        (["retrieve", "r", "--steps", "0"], "--steps: expected a whole number >= 1"),
        (
            ["retrieve", "r", "--beta-scale", "0"],
            "--beta-scale: expected a finite number > 0, got 0",
        ),
        (["retrieve", "r", "--noise", "-1"], "--noise: expected a finite number >= 0"),
        (
            ["retrieve", "r", "--amplitude", "x"],
            "--amplitude: expected a number, got 'x'",
        ),
        (["retrieve", "r", "--labels", "a"], "--labels: invalid int value: 'a'"),
        (["eval", "r", "--dataset", "svhn"], "--dataset: invalid choice: 'svhn'"),
        (["demo", "--epochs", "0"], "--epochs: expected a whole number >= 1, got 0"),
        (["reproduce", "--epochs", "-1"], "--epochs: expected a whole number >= 1"),
        (["bogus"], "invalid choice: 'bogus'"),
        (
            ["train", "--model", "hn_relu_mnist", "--no-resume", "--force-resume"],
            "argument --force-resume: not allowed with argument --no-resume",
        ),
        (
            ["reproduce", "--time-limit", "0"],
            "--time-limit: expected a finite number > 0, got 0",
        ),
    ],
)
def test_bad_flags_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err, err
    assert err.strip().splitlines()[-1].startswith(f"hamax {argv[0]}") or argv == [
        "bogus"
    ]


def test_train_writes_run_dir_plots_and_epoch_lines(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"checkpoint.eqx", "model.eqx", "metrics.json", "metrics.csv"} <= names
    for png in ("accuracy.png", "loss.png", "energy.png", "retrieved.png"):
        assert (run_dir / png).read_bytes()[:8] == PNG, png
    with np.load(run_dir / "retrieved.npz") as f:
        assert f["images"].shape == (10, 784) and list(f["labels"]) == list(range(10))
    assert not any(n.endswith((".tmp", ".lock")) for n in names)


def test_train_prints_one_line_per_epoch_off_a_terminal(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(_train_args(small_npz, out, "--no-plots")) == 0
    cap = capsys.readouterr()
    assert "test accuracy:" in cap.out and "plots:" not in cap.out
    lines = [ln for ln in cap.err.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 1 and lines[0].startswith("epoch 1/1 | train_loss")
    assert "\r" not in cap.err  # no progress bar updates in a log
    # A resume with other settings is refused, listing them; --force-resume goes on.
    argv = _train_args(small_npz, out, "--no-plots", "--epochs", "2", "--lr", "0.01")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("hamax train: error: Run directory")
    assert "learning_rate: 0.001 -> 0.01" in err and "--force-resume" in err
    assert main([*argv, "--force-resume"]) == 0
    cap = capsys.readouterr()
    assert "epoch 2/2 | " in cap.err and "epoch 1/" not in cap.err
    assert len(json.loads((out / "metrics.json").read_text())) == 2


def test_train_errors(small_npz, tmp_path, capsys):
    # A locked run directory (another run holds it).
    run = T.RunDir(tmp_path / "locked")
    run.acquire()
    try:
        assert main(_train_args(small_npz, run.path)) == 1
    finally:
        run.release()
    err = capsys.readouterr().err
    assert err.startswith("hamax train: error: Run directory") and "in use by" in err
    # An unwritable --out, refused before any data is read.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(_train_args(tmp_path / "none.npz", blocker / "sub")) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("hamax train: error: Run directory")
        and len(err.strip().splitlines()) == 1
    )
    assert "is not writable" in err
    # Missing data.
    assert main(_train_args(tmp_path / "none.npz", tmp_path / "o")) == 1
    assert capsys.readouterr().err.startswith("hamax train: error: MNIST file")


def test_nonfinite_training_exits_3(small_npz, tmp_path, capsys):
    out = tmp_path / "run"
    argv = _train_args(small_npz, out, "--lr", "1e30", "--max-batches", "2")
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "hamax train: stopped: non-finite loss at epoch 1, batch 2" in err
    assert "Lower --lr" in err


OUTCOMES = ("fixed_point", "metastable", "diffuse")


def test_eval_and_retrieve_accept_the_run_dir_or_a_file(run_dir, small_npz, capsys):
    for target in (run_dir, run_dir / "checkpoint.eqx", run_dir / "model.eqx"):
        assert main(["eval", str(target), "--data", str(small_npz)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("hn_relu_mnist (epoch 1) on the mnist test set: loss ")
        assert "accuracy " in out
    r = run_dir.parent / "retrieved"
    argv = ["retrieve", str(run_dir), "--out", str(r), "--steps", "3", "--labels"]
    assert main([*argv, "3", "7"]) == 0
    cap = capsys.readouterr()
    assert "wrote" in cap.out and "warning" not in cap.err
    # Each label's outcome (issue #24 item 4), read from the HN's memories.
    lines = [ln for ln in cap.out.splitlines() if ln.startswith("label ")]
    assert [ln.split(":")[0] for ln in lines] == ["label 3", "label 7"]
    assert all(ln.split(": ")[1].split(" ")[0] in OUTCOMES for ln in lines)
    assert all("nearest memory" in ln and "3 steps" in ln for ln in lines)
    # An unstable descent (dt far too large) is reported, not passed off as fine.
    assert main([*argv, "3", "--dt", "10", "--out", str(r.parent / "unstable")]) == 0
    err = capsys.readouterr().err
    assert "hamax retrieve: warning: the descent was unstable for label(s) [3]" in err
    assert "--dt 10 is too large" in err
    with np.load(r / "retrieved.npz") as f:
        assert list(f["labels"]) == [3, 7] and f["energies"].shape == (2, 4)
    # A descent that overflows is one line of error, not a traceback.
    assert main([*argv, "3", "--dt", "1e30", "--out", str(r.parent / "nan")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "hamax retrieve: error: nonfinite: The state or energy became non-finite (NaN or inf) "
        "during descent; reduce dt"
    ), err
    assert "Traceback" not in err and "-----" not in err
    assert not (r.parent / "nan" / "retrieved.npz").exists()
    assert main([*argv, "10"]) == 1
    assert capsys.readouterr().err == (
        "hamax retrieve: error: recall_labels got label 10, outside the label layer "
        "'label' of 10 units; pass labels in 0..9.\n"
    )


def test_eval_errors(run_dir, small_npz, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.eqx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("hamax eval: error:") and "does not exist" in err
    assert main(["eval", str(tmp_path)]) == 1
    assert "is a directory without a model" in capsys.readouterr().err
    (tmp_path / "bad.eqx").write_bytes(b"not a checkpoint")
    assert main(["eval", str(tmp_path / "bad.eqx")]) == 1
    assert "is not a hamax checkpoint" in capsys.readouterr().err
    argv = ["eval", str(run_dir), "--data", str(small_npz), "--dataset", "cifar10"]
    assert main(argv) == 1
    assert "holds zoo model 'hn_relu_mnist', trained on mnist; got --dataset " in (
        capsys.readouterr().err
    )


def test_eval_a_hand_built_ham(small_npz, tmp_path, capsys):
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), (28, 28, 1)),
        "label": hamax.NeuronLayer(L.Softmax(), 10),
    }
    ham = hamax.HAM(
        neurons,
        {"s": S.DenseSynapse()},
        [(("image", "label"), "s")],
        key=jr.key(0),
        dtype=jnp.float32,
    )
    # What hamax.training.train writes at the end of an epoch: the model, its
    # architecture as data and its objective (no training needed to test eval).
    objective = T.Classification(dt=0.5, steps=3)
    hamax.save(
        tmp_path / "model.eqx",
        ham,
        meta={"epoch": 1, "objective": T.objective_to_json(objective)},
        spec=hamax.to_spec(ham),
    )
    assert main(["eval", str(tmp_path), "--data", str(small_npz)]) == 1
    assert "pass --dataset mnist or --dataset cifar10" in capsys.readouterr().err
    argv = ["eval", str(tmp_path), "--data", str(small_npz), "--dataset", "mnist"]
    assert main(argv) == 0
    assert "HAM (epoch 1) on the mnist test set: loss" in capsys.readouterr().out


def test_demo_checks_figure2(small_npz, tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--data", str(small_npz), "--epochs", "1", "--out", str(out)]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "test accuracy (MNIST from" in stdout
    assert "Figure 2 check: " in stdout and "/10 retrieved digits recognised" in stdout
    summary = json.loads((out / "summary.json").read_text())
    if summary["figure2_recognised"] < 8:
        assert "docs/associative_memory.md" in stdout
    for p in summary["plots"]:
        assert pathlib.Path(p).read_bytes()[:8] == PNG


def test_reproduce_runs_in_chunks_and_writes_curves_and_records(
    small_npz, tmp_path, capsys
):
    # The paper's protocol with augmentation, two chunks (--epochs 1, then 2)
    # against one uninterrupted run: identical parameters.
    base = ["reproduce", "--data", str(small_npz), "--models", "hn_relu_mnist"]
    base += ["--max-batches", "2"]
    chunks, whole = tmp_path / "chunks", tmp_path / "whole"
    assert main([*base, "--epochs", "1", "--out", str(chunks)]) == 0
    assert main([*base, "--epochs", "2", "--out", str(chunks)]) == 0
    cap = capsys.readouterr()
    assert "| hn_relu_mnist | 2 |" in cap.out and "| 98.74% |" in cap.out
    lines = [ln for ln in cap.err.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(" | ")[0] for ln in lines] == ["epoch 1/1", "epoch 2/2"]
    assert all(" | ETA " in ln for ln in lines) and "\r" not in cap.err
    assert main([*base, "--epochs", "2", "--out", str(whole)]) == 0
    a, _ = hamax.load_run(chunks / "hn_relu_mnist")
    b, _ = hamax.load_run(whole / "hn_relu_mnist")
    for p, q in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        assert (np.asarray(p) == np.asarray(q)).all()
    run = chunks / "hn_relu_mnist"
    rec = json.loads((run / "reproduce.json").read_text())
    assert rec["epochs"] == 2 and rec["paper_100_epochs"] == 98.74
    assert rec["command"] == "hamax " + " ".join(
        [*base[:], "--epochs", "2", "--out", str(chunks)]
    )
    assert rec["versions"]["jax"] and "cores" in rec["machine"]
    assert (
        rec["augment"].startswith("Augment(") and rec["protocol"]["batch_size"] == 400
    )
    assert len((run / "metrics.csv").read_text().strip().splitlines()) == 3
    assert (run / "curves.png").read_bytes()[:8] == PNG
    assert (chunks / "results.md").exists() and (chunks / "results.json").exists()
    # A later command on the same --out keeps the other models' rows.
    rows = json.loads((chunks / "results.json").read_text())
    (chunks / "results.json").write_text(
        json.dumps([{**rows[0], "model": "conv_ham_mnist"}])
    )
    assert main([*base, "--epochs", "2", "--out", str(chunks)]) == 0
    models = [r["model"] for r in json.loads((chunks / "results.json").read_text())]
    assert models == ["conv_ham_mnist", "hn_relu_mnist"]
    assert "| conv_ham_mnist |" in (chunks / "results.md").read_text()
    # One --data path for models on two datasets is ambiguous.
    argv = ["reproduce", "--data", str(small_npz), "--models", "hn_relu_mnist"]
    argv += ["hn_relu_cifar10", "--out", str(tmp_path / "x")]
    assert main(argv) == 1
    assert "say which dataset the path is for" in capsys.readouterr().err


def test_train_with_the_fast_recipe(small_npz, tmp_path, capsys):
    out = tmp_path / "fast"
    assert main(_train_args(small_npz, out, "--no-plots", "--recipe", "fast")) == 0
    meta = json.loads((out / "metrics.json").read_text())
    assert len(meta) == 1  # --epochs 1 overrides the recipe's length
    saved = hamax.read_meta(out / "checkpoint.eqx")
    assert saved["settings"]["optimizer"].startswith("name=fast, learning_rate=0.003")
    assert "Augment(" in saved["settings"]["transform"]  # the recipe augments
    capsys.readouterr()
    # a resume with another recipe is refused, naming the difference
    assert main(_train_args(small_npz, out, "--no-plots", "--recipe", "paper")) == 1
    assert "optimizer: 'name=fast" in capsys.readouterr().err
    argv = _train_args(small_npz, tmp_path / "x", "--recipe", "fast", "--lr", "0.1")
    assert main(argv) == 1
    assert "--lr 0.1 and --recipe fast both set the learning rate" in (
        capsys.readouterr().err
    )


def test_recipe_schedules():
    # Adam's update for a constant gradient has size ~ the learning rate, so the
    # updates trace the schedule: a warm-up to the peak, a cosine decay to 0.
    fast = T.RECIPES["fast"]
    opt = fast.optimizer(steps_per_epoch=10, epochs=5)
    params = {"w": jnp.zeros(3, jnp.float32)}
    state = opt.init(params)
    sizes = []
    with jax.numpy_dtype_promotion("standard"):  # optax mixes int and float
        for _ in range(50):
            upd, state = opt.update({"w": jnp.ones(3, jnp.float32)}, state, params)
            sizes.append(float(-upd["w"][0]))
    assert sizes[0] == pytest.approx(0.0, abs=1e-9)  # warm-up starts at 0
    assert max(sizes) == pytest.approx(3e-3, rel=0.02)  # the peak, after 1 epoch
    assert int(np.argmax(sizes)) == 10 and sizes[-1] < 1e-5  # then decays to 0
    paper = T.RECIPES["paper"].optimizer(10)
    with jax.numpy_dtype_promotion("standard"):
        upd, _ = paper.update(
            {"w": jnp.ones(3, jnp.float32)}, paper.init(params), params
        )
    assert float(-upd["w"][0]) == pytest.approx(1e-3, rel=1e-3)  # constant 1e-3
    with pytest.raises(
        ValueError, match=r"Unknown recipe 'slow'; choose one of paper, fast"
    ):
        T.train_classifier("hn_relu_mnist", {}, epochs=1, optim="slow")
