"""hamax.Implicit's guarded solve: a failed adjoint solve is an error or falls
back to backpropagation through the descent, and training says which step."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import lagrangians as L, synapses as S, training as T
from hamax.dynamics import _guard


lx = pytest.importorskip("lineax")

STOP = hamax.Converged(atol=1e-11, max_steps=150)
# One Krylov vector, one iteration: the solve cannot reach its tolerance.
WEAK = lx.GMRES(rtol=1e-14, atol=1e-14, restart=1, max_steps=1)
FAILED = r"hamax.Implicit: the adjoint's linear solve failed"


@pytest.fixture(autouse=True)
def x64():
    with jax.enable_x64(True):
        yield


def small_ham(key):
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), 4),
        "hidden": hamax.NeuronLayer(L.Tanh(), 5),
        "label": hamax.NeuronLayer(L.Softmax(), 3),
    }
    synapses = {"s1": S.DenseSynapse(), "s2": S.DenseSynapse()}
    conns = [(("image", "hidden"), "s1"), (("hidden", "label"), "s2")]
    return hamax.HAM(neurons, synapses, conns, key=key, dtype=jnp.float64)


def setup(key):
    k1, k2 = jr.split(key)
    ham = small_ham(k1)
    img = jr.normal(k2, (4,), jnp.float64)
    free = {k: v for k, v in ham.init_states().items() if k != "image"}
    return ham, img, free


def loss_of(ham, free, adjoint, stop=STOP):
    def loss(img):
        s = ham.clamp({"image": img})
        x = hamax.descend(s, free, dt=0.5, stop=stop, adjoint=adjoint).free
        return jnp.sum(x["label"] ** 2) + jnp.sum(jnp.sin(x["hidden"]))

    return loss


def test_failed_solve_raises_under_grad_and_jit():
    ham, img, free = setup(jr.key(0))
    loss = loss_of(ham, free, hamax.Implicit(WEAK))
    # Under jax.jit (or eagerly) JAX wraps the same message in a JaxRuntimeError.
    with pytest.raises(eqx.EquinoxRuntimeError, match=FAILED):
        jax.block_until_ready(eqx.filter_jit(jax.grad(loss))(img))


def test_fallback_equals_remat_gradient():
    ham, img, free = setup(jr.key(0))
    n = int(hamax.descend(ham.clamp({"image": img}), free, dt=0.5, stop=STOP).num_steps)
    assert 1 < n < STOP.max_steps
    ref = jax.jit(jax.grad(loss_of(ham, free, hamax.Remat(), hamax.Steps(n))))(img)
    for fb in (hamax.Remat(), hamax.Remat(every=3)):
        g = jax.jit(jax.grad(loss_of(ham, free, hamax.Implicit(WEAK, fallback=fb))))(
            img
        )
        np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-14)


def test_well_conditioned_guard_changes_nothing():
    # The guarded step equals the unguarded one bit for bit, with no fallback.
    ham = small_ham(jr.key(2))
    optim = T.adamw(1e-2)
    opt = T.init_opt_state(ham, optim)
    batch = data(jr.key(3), 4)
    outs = [
        T.make_step(ham, opt, batch, objective=objective(adj), optim=optim)
        for adj in (hamax.Implicit(), hamax.Implicit(fallback=hamax.Remat()))
    ]
    for h, _, loss, m in outs:
        assert float(m["implicit_failures"]) == 0 == float(m["implicit_fallbacks"])
        assert bool(jnp.isfinite(loss))
    for a, b in zip(leaves(outs[0][0]), leaves(outs[1][0])):
        np.testing.assert_array_equal(a, b)


def test_solve_check_catches_non_finite_and_large_residuals():
    b = jnp.array([1.0, 2.0])

    def eye(v):
        return v

    assert bool(_guard.solve_ok(eye, b, b, 1e-8))
    assert not bool(_guard.solve_ok(eye, b, b.at[0].set(jnp.nan), 1e-8))
    assert not bool(_guard.solve_ok(eye, b, b.at[0].set(jnp.inf), 1e-8))
    assert not bool(_guard.solve_ok(eye, b, 1.01 * b, 1e-8))
    assert bool(_guard.solve_ok(eye, b, 1.01 * b, 0.1))
    assert bool(_guard.solve_ok(eye, 0 * b, 0 * b, 1e-8))  # nothing to solve


def leaves(tree):
    return jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))


def data(key, n=8):
    k1, k2 = jr.split(key)
    return {
        "image": np.asarray(jr.normal(k1, (n, 4))),
        "label": np.asarray(jr.randint(k2, (n,), 0, 3)),
    }


def objective(adjoint):
    return T.Classification(dt=0.5, stop=STOP, adjoint=adjoint)


def test_train_stops_naming_epoch_and_batch():
    ham = small_ham(jr.key(5))
    kw = dict(train_data=data(jr.key(6)), epochs=2, batch_size=4, progress=False)
    res = T.train(ham, objective(hamax.Implicit(WEAK)), **kw)
    assert res.status is T.TrainStatus.nonfinite
    assert res.message == "stopped: implicit solve failed at epoch 1, batch 1"
    assert res.history == []
    with pytest.raises(
        FloatingPointError,
        match=r"train: the implicit adjoint's linear solve failed at epoch 1, batch 1 "
        r"\(4 of 4 examples\); the update was not applied; no checkpoint was written "
        r"\(no run directory\)\. Pass hamax.Implicit\(fallback=hamax.Remat\(\)\)",
    ):
        T.train(ham, objective(hamax.Implicit(WEAK)), on_nonfinite="raise", **kw)


def test_train_with_fallback_counts_steps_that_fell_back():
    ham = small_ham(jr.key(7))
    kw = dict(train_data=data(jr.key(8)), epochs=2, batch_size=4, progress=False)
    res = T.train(ham, objective(hamax.Implicit(WEAK, fallback=hamax.Remat())), **kw)
    assert res.status is T.TrainStatus.completed
    assert [r["train_implicit_fallbacks"] for r in res.history] == [2, 2]
    assert [r["train_implicit_failures"] for r in res.history] == [0, 0]


@pytest.mark.parametrize(
    "kw, msg",
    [
        (
            dict(fallback=hamax.Implicit()),
            r"Implicit expected `fallback` to be None, hamax.Remat\(...\) or "
            r"hamax.BPTT\(\), got Implicit\(",
        ),
        (
            dict(rtol=0.0),
            r"Implicit expected `rtol` to be None or a finite number > 0, got 0.0.",
        ),
        (dict(rtol=float("nan")), r"got nan\."),
    ],
)
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        hamax.Implicit(**kw)


def test_objective_json_keeps_the_guard():
    from hamax.training._objective_io import objective_from_json, objective_to_json

    for adj in (
        hamax.Implicit(),
        hamax.Implicit(rtol=1e-4, fallback=hamax.Remat(every=2)),
        hamax.Implicit(fallback=hamax.BPTT()),
    ):
        assert objective_from_json(objective_to_json(objective(adj))) == objective(adj)
    # The defaults are left out, so a run saved before the guard still resumes.
    assert objective_to_json(objective(hamax.Implicit()))["adjoint"] == {
        "class": "Implicit"
    }
