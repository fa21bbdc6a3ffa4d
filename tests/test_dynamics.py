import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
import hamax.lagrangians as L
from hamax.synapses import DenseSynapse

from .helpers import bounded_ham, naive_descent, tiny_ham, tree_allclose


@pytest.mark.parametrize("clamp", [(), ("image",), ("image", "label")])
def test_scan_equals_python_loop(clamp, getkey):
    ham = tiny_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    sol = hamax.descend(
        ham, xs, dt=0.05, steps=12, clamp=clamp, save=hamax.Save(energy=True)
    )
    ref, energies = naive_descent(ham, xs, 0.05, 12, clamped=clamp)
    assert tree_allclose(sol.states, ref, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(sol.energies, np.asarray(energies), rtol=1e-11)
    assert int(sol.num_steps) == 12 and sol.result == hamax.RESULTS.successful
    for k in clamp:  # structural clamping holds the state bit for bit
        np.testing.assert_array_equal(sol.states[k], xs[k])


def test_element_masks_equal_naive_masked_loop(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    mask = jnp.array([[True, False, True], [False, False, True]])
    sol = hamax.descend(ham, xs, dt=0.1, steps=10, clamp={"image": mask, "label": True})
    x = dict(xs)
    for _ in range(10):
        g = ham.energy_grad(x)
        x = {
            "image": jnp.where(mask, x["image"], x["image"] - 0.1 * g["image"]),
            "hidden": x["hidden"] - 0.1 * g["hidden"],
            "label": x["label"],
        }
    assert tree_allclose(sol.states, x, rtol=1e-12, atol=1e-13)
    np.testing.assert_array_equal(sol.states["image"][mask], xs["image"][mask])
    assert not np.allclose(sol.states["image"][~mask], xs["image"][~mask])


def test_energy_non_increasing_and_components_sum(getkey):
    for _ in range(5):
        ham = bounded_ham(getkey())
        xs = ham.init_states(scale=2.0, key=getkey())
        sol = hamax.descend(
            ham,
            xs,
            dt=0.05,
            steps=60,
            save=hamax.Save(energy=True, components=True, states=True),
            check_monotone=True,
        )
        E = np.asarray(sol.energies)
        assert np.all(np.diff(E) <= 1e-12)
        total = sum(v for v in jax.tree_util.tree_leaves(sol.energy_components))
        np.testing.assert_allclose(total, E, rtol=1e-10)
        assert sol.trajectory["image"].shape == (61, 2, 3)
        np.testing.assert_allclose(
            ham.energy({k: v[-1] for k, v in sol.trajectory.items()}), E[-1], rtol=1e-12
        )
        np.testing.assert_allclose(sol.energy, E[-1], rtol=1e-12)


def hopfield(patterns):
    n = patterns.shape[1]
    W = 0.5 * (patterns.T @ patterns) / n
    W = W - jnp.diag(jnp.diag(W))
    layer = hamax.NeuronLayer(L.Tanh(beta=2.0), n)
    return hamax.HAM({"x": layer}, {"w": DenseSynapse(W=W)}, [(("x", "x"), "w")])


def test_classical_hopfield_retrieves_stored_patterns(getkey):
    patterns = jnp.sign(jr.normal(getkey(), (3, 100)))
    ham = hopfield(patterns)
    for p in patterns:
        flip = jr.bernoulli(getkey(), 0.2, (100,))
        cue = jnp.where(flip, -p, p)
        sol = hamax.descend(
            ham, {"x": cue}, dt=0.2, stop=hamax.Converged(atol=1e-7, max_steps=2000)
        )
        assert sol.result == hamax.RESULTS.successful
        assert 0 < int(sol.num_steps) < 2000
        np.testing.assert_array_equal(jnp.sign(sol.states["x"]), p)
        # a fixed point: one more step moves nothing
        grad = ham.energy_grad(sol.states)["x"]
        assert float(jnp.max(jnp.abs(0.2 * grad))) <= 1e-7


def test_energy_tolerance_stop(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    stop = hamax.Converged(atol=1e-3, energy_atol=1e-9, max_steps=5000)
    sol = hamax.descend(ham, xs, dt=0.1, stop=stop, save=hamax.Save(energy=True))
    n = int(sol.num_steps)
    assert abs(float(sol.energies[n - 1] - sol.energies[n - 2])) <= 1e-9
    assert np.all(np.isnan(np.asarray(sol.energies[n + 1 :])))


def test_status_max_steps_and_throw(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    stop = hamax.Converged(atol=1e-14, max_steps=3)
    sol = hamax.descend(ham, xs, dt=0.1, stop=stop, throw=False)
    assert sol.result == hamax.RESULTS.max_steps_reached and int(sol.num_steps) == 3
    with pytest.raises(
        Exception, match="The maximum number of descent steps was reached"
    ):
        hamax.descend(ham, xs, dt=0.1, stop=stop)


def test_nonfinite_detected_with_step_and_layer(getkey):
    ham = tiny_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    sol = hamax.descend(ham, xs, dt=1e30, steps=40, throw=False)
    assert sol.result == hamax.RESULTS.nonfinite
    assert int(sol.failed_step) >= 0 and sol.failed_layer_name in ham.neurons
    assert all(
        bool(jnp.all(jnp.isfinite(v))) for v in sol.states.values()
    )  # last good state kept
    with pytest.raises(
        Exception, match=r"non-finite \(NaN or inf\) during descent; reduce dt"
    ):
        hamax.descend(ham, xs, dt=1e30, steps=40)


def test_monotonicity_check_reports_first_rise(getkey):
    ham = tiny_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    sol = hamax.descend(
        ham,
        xs,
        dt=50.0,
        steps=30,
        check_monotone=True,
        throw=False,
        save=hamax.Save(energy=True),
    )
    assert sol.result == hamax.RESULTS.energy_increased
    i = int(sol.failed_step)
    E = np.asarray(sol.energies)
    assert E[i] > E[i - 1] and np.all(np.diff(E[:i]) <= 1e-5 * (1 + np.abs(E[1:i])))
    assert float(sol.energy_increase) > 0
    with pytest.raises(Exception, match="The energy increased during descent"):
        hamax.descend(ham, xs, dt=50.0, steps=30, check_monotone=True)


def test_unstable_descent_is_reported_by_default(getkey):
    # Issue #15 item 4: an energy rise beyond round-off is a status by default
    # (RESULTS.unstable, not raised); a converged float32 descent reports none.
    ham = hamax.zoo.make_hn((64,), num_hidden=50, key=getkey(), dtype=jnp.float32)
    system = ham.clamp({"label": 20 * jax.nn.one_hot(3, 10, dtype=jnp.float32)})
    x = system.init(scale=1.0, key=getkey())
    ok = hamax.descend(system, x, dt=0.1, stop=hamax.Converged(max_steps=3000))
    assert ok.result == hamax.RESULTS.successful and int(ok.failed_step) == -1
    assert ok.energy is None and float(ok.energy_increase) < 1e-4
    # The default checks the last two steps; with the energy saved, every step.
    bad = hamax.descend(system, x, dt=10.0, steps=15, save=hamax.Save(energy=True))
    assert bad.result == hamax.RESULTS.unstable and not bad.converged
    i, E = int(bad.failed_step), np.asarray(bad.energies)
    assert i > 0 and E[i] > E[i - 1] and float(bad.energy_increase) > 1
    assert "reduce dt" in hamax.RESULTS[bad.result]
    end = hamax.descend(system, x, dt=10.0, steps=15)
    assert end.result == hamax.RESULTS.unstable and int(end.failed_step) >= 14
    # One step: the rise is seen after the loop; under vmap, per example.
    one = hamax.descend(system, x, dt=10.0, steps=1)
    assert one.result == hamax.RESULTS.unstable and int(one.failed_step) == 1
    results = jax.vmap(lambda d: hamax.descend(system, x, dt=d, steps=15).result)
    codes = results(jnp.array([0.1, 10.0], jnp.float32))._value
    assert list(codes) == [hamax.RESULTS.successful._value, one.result._value]
    untracked = hamax.Monitor(track=False)
    sol = hamax.descend(system, x, dt=10.0, steps=15, check_monotone=untracked)
    assert sol.result == hamax.RESULTS.successful and sol.energy is None
    with pytest.raises(
        Exception, match=r"^energy_increased: The energy increased during descent"
    ):
        hamax.descend(system, x, dt=10.0, steps=15, check_monotone=True)
    with pytest.raises(ValueError, match="monotone=True with track=False"):
        hamax.Monitor(monotone=True, track=False)


def test_vmap_jit_grad_agree(getkey):
    ham = bounded_ham(getkey())
    keys = jr.split(getkey(), 4)
    batch = jax.vmap(lambda k: ham.init_states(scale=1.0, key=k))(keys)

    def run(x):
        return hamax.descend(ham, x, dt=0.1, steps=5, clamp=["image"]).states

    batched = jax.jit(jax.vmap(run))(batch)
    for i in range(4):
        one = run(jax.tree_util.tree_map(lambda a, i=i: a[i], batch))
        assert tree_allclose(
            jax.tree_util.tree_map(lambda a, i=i: a[i], batched), one, rtol=1e-12
        )

    xs = ham.init_states(scale=1.0, key=getkey())

    def loss(W, adjoint=hamax.BPTT()):
        h = hamax.HAM(
            ham.neurons, {**ham.synapses, "d2": DenseSynapse(W=W)}, ham.connections
        )
        out = hamax.descend(h, xs, dt=0.1, steps=5, clamp=["image"], adjoint=adjoint)
        return jnp.sum(out.states["label"] ** 2)

    W = ham.synapses["d2"].W
    g = jax.grad(loss)(W)
    np.testing.assert_allclose(jax.grad(loss)(W, hamax.Remat()), g, rtol=1e-12)
    np.testing.assert_allclose(jax.grad(loss)(W, hamax.Remat(every=2)), g, rtol=1e-12)
    E = np.zeros(W.shape)
    E[2, 1] = 1e-6
    np.testing.assert_allclose(g[2, 1], (loss(W + E) - loss(W - E)) / 2e-6, rtol=1e-6)


def test_float32_preserved(getkey):
    ham = bounded_ham(getkey(), dtype=jnp.float32)
    xs = ham.init_states(dtype=jnp.float32, scale=1.0, key=getkey())
    sol = hamax.descend(ham, xs, dt=0.1, steps=3, save=hamax.Save(energy=True))
    assert all(v.dtype == jnp.float32 for v in sol.states.values())
    assert sol.energies.dtype == jnp.float32


def test_compiles_once_per_structure(getkey):
    traces = []

    def counting(g):
        traces.append(1)
        return -jnp.sum(g)

    ham = hamax.HAM(
        {"a": hamax.NeuronLayer(L.Tanh(), 3)}, {"b": counting}, [(("a",), "b")]
    )
    n0 = len(traces)  # construction traces once for shape validation
    for seed in range(3):
        hamax.descend(
            ham, ham.init_states(scale=1.0, key=jr.key(seed)), dt=0.1, steps=4
        )
    hamax.descend(ham, ham.init_states(), dt=0.2, steps=4)  # a new dt value: no retrace
    # One jit trace for all four calls: the step's gradient and the three
    # energies of the end check (hamax.Monitor) each call the synapse once.
    assert len(traces) - n0 <= 4
    before = len(traces)
    hamax.descend(ham, ham.init_states(), dt=0.2, steps=400)
    assert len(traces) - before <= 4  # compile time does not grow with steps


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (
            dict(steps=3, stop=hamax.Converged()),
            r"descend expected exactly one of `steps`",
        ),
        (dict(), r"descend expected exactly one of `steps`"),
        (dict(steps=3, dt=0.0), r"descend expected `dt` > 0, got dt=0.0"),
        (dict(steps=3, dt=-0.1), r"descend expected `dt` > 0, got dt=-0.1"),
        (
            dict(steps=3, clamp=["imag"]),
            r"descend got clamp for 'imag', which is not a neuron layer .* Did you mean 'image'",
        ),
        (
            dict(steps=3, clamp={"image": jnp.ones((2, 3))}),
            r"descend expected clamp\['image'\] to be a bool or a boolean mask, got dtype float",
        ),
        (
            dict(steps=3, clamp={"image": jnp.ones(4, bool)}),
            r"descend expected clamp\['image'\] broadcastable to the layer shape \(2, 3\), got mask.shape=\(4,\)",
        ),
        (
            dict(steps=3, clamp=["image", "hidden", "label"]),
            r"descend got every layer clamped",
        ),
    ],
)
def test_errors(kwargs, match, getkey):
    ham = bounded_ham(getkey())
    with pytest.raises(ValueError, match=match):
        hamax.descend(ham, ham.init_states(), **kwargs)


def test_errors_converged():
    with pytest.raises(
        ValueError, match=r"Converged expected `max_steps` to be a positive int, got 0"
    ):
        hamax.Converged(max_steps=0)
    with pytest.raises(
        ValueError, match=r"Converged expected `atol` to be a finite number >= 0"
    ):
        hamax.Converged(atol=-1.0)


def test_nan_initial_state_is_reported(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states()
    xs["hidden"] = xs["hidden"].at[0].set(jnp.nan)
    with pytest.raises(Exception, match=r"descend: x0\['hidden'\] contains NaN or inf"):
        hamax.descend(ham, xs, dt=0.1, steps=2)


@pytest.mark.parametrize("bad", [jnp.nan, -jnp.inf, jnp.inf])
@pytest.mark.parametrize("where", [0, -1])
@pytest.mark.parametrize("steps", [0, 2])
@pytest.mark.parametrize("throw", [True, False])
def test_any_nonfinite_element_of_x0_is_reported(bad, where, steps, throw, getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    for name in xs:  # every layer, clamped or free
        bad_xs = dict(xs)
        flat = xs[name].reshape(-1).at[where].set(bad)
        bad_xs[name] = flat.reshape(xs[name].shape)
        with pytest.raises(
            Exception, match=rf"descend: x0\['{name}'\] contains NaN or inf"
        ):
            hamax.descend(ham, bad_xs, dt=0.1, steps=steps, clamp=[name], throw=throw)
        # also inside a user's jit that reads only the states
        f = jax.jit(lambda x: hamax.descend(ham, x, dt=0.1, steps=steps).states)
        with pytest.raises(Exception, match="contains NaN or inf"):
            jax.block_until_ready(f(bad_xs))


def test_ode_path_matches_tiny_dt_euler(getkey):
    pytest.importorskip("diffrax")
    from hamax.ode import solve_ode

    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    euler = hamax.descend(ham, xs, dt=1e-3, steps=1000, clamp=["image"])  # t = 1
    ode = solve_ode(
        ham, xs, clamp=["image"], t1=1.0, steady_state=False, rtol=1e-9, atol=1e-9
    )
    assert ode.result == hamax.RESULTS.successful
    assert tree_allclose(ode.states, euler.states, rtol=0, atol=2e-3)
    np.testing.assert_array_equal(ode.states["image"], xs["image"])
    # run to a steady state: a fixed point, with a lower energy
    steady = solve_ode(ham, xs, clamp=["image"], t1=1e3)
    grad = ham.energy_grad(steady.states)
    assert max(float(jnp.max(jnp.abs(grad[k]))) for k in ("hidden", "label")) < 1e-3
    assert float(steady.energy) < float(ham.energy(xs))
    short = solve_ode(ham, xs, clamp=["image"], t1=1e-2, throw=False)
    assert short.result == hamax.RESULTS.max_steps_reached


def test_implicit_gradient_equals_bptt_at_fixed_point_and_fd(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    stop = hamax.Converged(atol=1e-12, max_steps=20000)

    def loss(W, adjoint):
        h = hamax.HAM(
            ham.neurons, {**ham.synapses, "d1": DenseSynapse(W=W)}, ham.connections
        )
        if adjoint == "long-bptt":
            out = hamax.descend(h, xs, dt=0.2, steps=800, clamp=["image"])
        else:
            out = hamax.descend(
                h, xs, dt=0.2, stop=stop, clamp=["image"], adjoint=hamax.Implicit()
            )
        return jnp.sum(out.states["label"] ** 2) + jnp.sum(
            jnp.sin(out.states["hidden"])
        )

    W = ham.synapses["d1"].W
    g_imp = jax.grad(loss)(W, "implicit")
    g_bptt = jax.grad(loss)(W, "long-bptt")  # BPTT through a converged trajectory
    np.testing.assert_allclose(g_imp, g_bptt, rtol=1e-6, atol=1e-9)
    E = np.zeros(W.shape)
    E[3, 1] = 1e-6
    fd = (loss(W + E, "implicit") - loss(W - E, "implicit")) / 2e-6
    np.testing.assert_allclose(g_imp[3, 1], fd, rtol=1e-5)


def test_implicit_requires_stop(getkey):
    ham = bounded_ham(getkey())
    with pytest.raises(
        ValueError,
        match=r"descend\(adjoint=hamax.Implicit\(\)\) differentiates a fixed point, "
        r"so it needs `stop=",
    ):
        hamax.descend(ham, ham.init_states(), steps=3, adjoint=hamax.Implicit())
    with pytest.raises(
        ValueError,
        match=r"descend expected `adjoint` to be hamax.BPTT\(\), hamax.Remat\(\) or "
        r"hamax.Implicit\(\), got 'adjoint'",
    ):
        hamax.descend(ham, ham.init_states(), steps=3, adjoint="adjoint")


def test_results_and_solution_print_readably():
    # RESULTS members print their name (and their meaning), under the public path.
    assert repr(hamax.RESULTS.successful) == "hamax.RESULTS<successful>"
    assert repr(hamax.RESULTS.nonfinite).startswith("hamax.RESULTS<nonfinite: ")
    ham = _tiny_ham_for_repr()
    sol = hamax.descend(ham, ham.init_states(), dt=0.1, steps=3)
    r = repr(sol)
    assert r.startswith("Solution(result=successful, num_steps=3, energy=")
    assert "states={'a': f64[4], 'b': f64[3]})" in r and "\n" not in r
    bad = hamax.descend(ham, ham.init_states(), dt=1e30, steps=3, throw=False)
    rb = repr(bad)
    assert "result=unstable" in rb and rb.endswith(", failed_step=2)"), rb
    # Under vmap the fields are batched: the repr still prints, with shapes.
    xs = jax.vmap(lambda _: ham.init_states())(jnp.arange(2))
    vsol = jax.vmap(lambda x: hamax.descend(ham, x, dt=0.1, steps=2))(xs)
    assert repr(vsol).startswith("Solution(result=?, num_steps=")
    assert "states={'a': f64[2,4], 'b': f64[2,3]}" in repr(vsol)


def _tiny_ham_for_repr():
    from hamax.lagrangians import Softmax, Tanh
    from hamax.synapses import DenseSynapse

    return hamax.HAM(
        neurons={
            "a": hamax.NeuronLayer(Tanh(), 4),
            "b": hamax.NeuronLayer(Softmax(), 3),
        },
        synapses={"w": DenseSynapse()},
        connections=[(("a", "b"), "w")],
        key=jax.random.key(0),
    )
