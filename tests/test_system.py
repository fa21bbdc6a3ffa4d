"""The public clamped system, strategy objects and their deprecated spellings."""

import warnings

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import hamax
from hamax import lagrangians as L, synapses as S

from .helpers import tree_allclose
from .test_dynamics import bounded_ham


def _clamped(ham, key):
    xs = ham.init_states(scale=1.0, key=key)
    return xs, ham.clamp({"image": xs["image"]})


def test_step_loop_equals_descend_under_jit_vmap_grad(getkey):
    ham = bounded_ham(getkey())
    xs, system = _clamped(ham, getkey())
    free0 = {k: xs[k] for k in system.free_names}
    assert system.free_names == ("hidden", "label")

    def loop(system, x):
        for _ in range(6):
            x = system.step(x, 0.1)
        return x

    ref = hamax.descend(ham, xs, dt=0.1, steps=6, clamp=["image"]).states
    out = loop(system, free0)
    assert tree_allclose(out, {k: ref[k] for k in out}, rtol=1e-12)
    assert tree_allclose(jax.jit(loop)(system, free0), out, rtol=1e-12)
    sol = hamax.descend(system, free0, dt=0.1, steps=6)
    assert tree_allclose(sol.states, ref, rtol=1e-12)
    assert tree_allclose(sol.free, out, rtol=1e-12)
    # Ten single-step descents continue each other exactly.
    x = free0
    for _ in range(6):
        x = hamax.descend(system, x, dt=0.1, steps=1).free
    assert tree_allclose(x, out, rtol=1e-12)

    # vmap over clamped images and initial states
    keys = jr.split(getkey(), 3)
    batch = jax.vmap(lambda k: ham.init_states(scale=1.0, key=k))(keys)

    def run_loop(x):
        s = ham.clamp({"image": x["image"]})
        return loop(s, {k: x[k] for k in s.free_names})

    def run_descend(x):
        return hamax.descend(ham, x, dt=0.1, steps=6, clamp=["image"]).states

    a, b = jax.vmap(run_loop)(batch), jax.vmap(run_descend)(batch)
    assert tree_allclose(a, {k: b[k] for k in a}, rtol=1e-12)

    # grad through the stepped loop w.r.t. the parameters and the clamped value
    def loss(ham, img, how):
        s = ham.clamp({"image": img})
        x = {k: xs[k] for k in s.free_names}
        if how == "loop":
            x = loop(s, x)
        else:
            x = hamax.descend(s, x, dt=0.1, steps=6).free
        return jnp.sum(x["label"] ** 2) + jnp.sum(jnp.sin(x["hidden"]))

    import equinox as eqx

    g1 = eqx.filter_grad(loss)(ham, xs["image"], "loop")
    g2 = eqx.filter_grad(loss)(ham, xs["image"], "descend")
    assert tree_allclose(g1, g2, rtol=1e-10)
    gi1 = jax.grad(loss, argnums=1)(ham, xs["image"], "loop")
    gi2 = jax.grad(loss, argnums=1)(ham, xs["image"], "descend")
    np.testing.assert_allclose(gi1, gi2, rtol=1e-10)
    e = np.zeros(xs["image"].shape)
    e[1, 2] = 1e-6
    fd = (
        loss(ham, xs["image"] + e, "loop") - loss(ham, xs["image"] - e, "loop")
    ) / 2e-6
    np.testing.assert_allclose(gi1[1, 2], fd, rtol=1e-6)


def test_system_energy_and_grad_match_ham(getkey):
    ham = bounded_ham(getkey())
    xs, system = _clamped(ham, getkey())
    free = {k: xs[k] for k in system.free_names}
    np.testing.assert_allclose(system.energy(free), ham.energy(xs), rtol=1e-12)
    grad = system.grad(free)
    ref = ham.energy_grad(xs, layers=["hidden", "label"])
    assert tree_allclose(grad, ref, rtol=1e-12)
    comps = system.components(free)
    tree = ham.energy_tree(xs)
    assert tree_allclose(comps, tree, rtol=1e-12)
    E, g, scale = system.energy_grad_scale(free)
    np.testing.assert_allclose(E, ham.energy(xs), rtol=1e-12)
    terms = jax.tree_util.tree_leaves(tree)
    np.testing.assert_allclose(scale, sum(abs(float(t)) for t in terms), rtol=1e-12)
    assert system.states(free).keys() == ham.neurons.keys()


def test_masked_system_equals_masked_descend(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    mask = jnp.array([[True, False, True], [False, False, True]])
    ref = hamax.descend(ham, xs, dt=0.1, steps=8, clamp={"image": mask}).states
    system = ham.clamp({"image": xs["image"]}, masks={"image": mask})
    assert system.free_names == ("image", "hidden", "label")
    x = system.init(scale=1.0, key=getkey())
    np.testing.assert_array_equal(
        jnp.where(mask, x["image"], 0.0), jnp.where(mask, xs["image"], 0.0)
    )
    x = {k: xs[k] for k in system.free_names}
    for _ in range(8):
        x = system.step(x, 0.1)
    assert tree_allclose(x, {k: ref[k] for k in x}, rtol=1e-12)
    r = system.residual(x)
    assert float(jnp.max(jnp.abs(jnp.where(mask, r["image"], 0.0)))) == 0.0


def test_remat_every_k_and_bptt_gradients_agree(getkey):
    ham = bounded_ham(getkey())
    xs, system = _clamped(ham, getkey())
    free = {k: xs[k] for k in system.free_names}

    def loss(img, adjoint):
        s = ham.clamp({"image": img})
        x = hamax.descend(s, free, dt=0.1, steps=7, adjoint=adjoint).free
        return jnp.sum(x["label"] ** 2)

    g = jax.grad(loss)(xs["image"], hamax.BPTT())
    for adj in (
        hamax.Remat(),
        hamax.Remat(every=2),
        hamax.Remat(every=3),
        hamax.Remat(every=10),
    ):
        np.testing.assert_allclose(jax.grad(loss)(xs["image"], adj), g, rtol=1e-12)


def test_implicit_adjoint_with_lineax_solver(getkey):
    lx = pytest.importorskip("lineax")
    ham = bounded_ham(getkey())
    xs, system = _clamped(ham, getkey())
    free = {k: xs[k] for k in system.free_names}
    stop = hamax.Converged(atol=1e-12, max_steps=20000)

    def loss(img, adjoint):
        s = ham.clamp({"image": img})
        x = hamax.descend(s, free, dt=0.2, stop=stop, adjoint=adjoint).free
        return jnp.sum(x["label"] ** 2)

    g1 = jax.grad(loss)(xs["image"], hamax.Implicit())
    g2 = jax.grad(loss)(xs["image"], hamax.Implicit(lx.GMRES(rtol=1e-10, atol=1e-10)))
    np.testing.assert_allclose(g1, g2, rtol=1e-6, atol=1e-10)


def test_monotonicity_check_has_no_false_alarm_in_float32(getkey):
    # A converged float32 descent sits at its fixed point for hundreds of steps,
    # where the energy only jitters by round-off: no alarm.
    ham = hamax.zoo.make_hn((64,), num_hidden=50, key=getkey(), dtype=jnp.float32)
    img = jr.normal(getkey(), (64,), jnp.float32)
    system = ham.clamp({"image": img})
    sol = hamax.descend(
        system,
        system.init(),
        dt=0.4,
        steps=400,
        check_monotone=True,
        save=hamax.Save(energy=True),
    )
    assert sol.result == hamax.RESULTS.successful
    E = np.asarray(sol.energies)
    assert np.abs(E[-1] - E[-2]) < 1e-4
    # A deliberately unstable step still raises the alarm.
    from .helpers import tiny_ham

    tiny = tiny_ham(getkey())
    bad = hamax.descend(
        tiny,
        tiny.init_states(scale=1.0, key=getkey()),
        dt=50.0,
        steps=30,
        check_monotone=True,
        throw=False,
    )
    assert bad.result == hamax.RESULTS.energy_increased
    assert int(bad.failed_step) > 0
    # An explicit tolerance is honoured: rtol=0 flags round-off too.
    strict = hamax.descend(
        system,
        system.init(),
        dt=0.4,
        steps=400,
        throw=False,
        check_monotone=hamax.Monitor(monotone=True, rtol=0.0),
    )
    assert strict.result in (hamax.RESULTS.energy_increased, hamax.RESULTS.successful)


def test_stop_and_save_objects():
    assert hamax.Steps(np.int64(10)).max_steps == 10
    assert hamax.Steps(jnp.asarray(3)).n == 3
    assert hamax.Converged(max_steps=7).max_steps == 7
    for bad, match in [
        (lambda: hamax.Steps(-1), r"Steps expected `n` to be an integer >= 0, got -1"),
        (
            lambda: hamax.Steps(2.5),
            r"Steps expected `n` to be an integer >= 0, got 2.5",
        ),
        (
            lambda: hamax.Steps(True),
            r"Steps expected `n` to be an integer >= 0, got None",
        ),
        (
            lambda: hamax.Converged(atol=float("nan")),
            r"Converged expected `atol` to be a finite number >= 0, got nan",
        ),
        (
            lambda: hamax.Converged(energy_atol=-1.0),
            r"Converged expected `energy_atol` to be a finite number >= 0",
        ),
        (
            lambda: hamax.Converged(max_steps=0),
            r"Converged expected `max_steps` to be a positive int, got 0",
        ),
        (
            lambda: hamax.Remat(every=0),
            r"Remat expected `every` to be an int >= 1, got 0",
        ),
        (
            lambda: hamax.Monitor(rtol=float("inf")),
            r"Monitor expected `rtol` to be a finite number >= 0 or None",
        ),
    ]:
        with pytest.raises(ValueError, match=match):
            bad()


def test_descend_argument_errors(getkey):
    ham = bounded_ham(getkey())
    xs, system = _clamped(ham, getkey())
    free = {k: xs[k] for k in system.free_names}
    cases = [
        (
            lambda: hamax.descend(system, free, steps=2, clamp=["image"]),
            r"descend got `clamp` with a ClampedSystem, which is clamped already",
        ),
        (
            lambda: hamax.descend(system, xs, steps=2),
            r"descend expected states for exactly the free layers \['hidden', 'label'\], "
            r"got \['image', 'hidden', 'label'\] \(clamped or unknown: \['image'\]\)"
            r"\. system\.init\(\) makes them; to continue a descent, pass its "
            r"`solution\.free` \(not `\.states`\)\.",
        ),
        (
            lambda: hamax.descend(system, {"hidden": xs["hidden"]}, steps=2),
            r"\(missing: \['label'\]\)",
        ),
        (
            lambda: hamax.descend(system, free, steps=2, dt=float("inf")),
            r"descend expected a finite `dt`, got dt=inf",
        ),
        (
            lambda: hamax.descend(system, free, steps=2, save_energies=True),
            r"descend got unexpected keyword argument\(s\) \['save_energies'\]. "
            r"Did you mean 'save_energy'",
        ),
        (
            lambda: hamax.descend(
                ham, {**xs, "label": xs["label"].astype(jnp.float32)}, steps=2
            ),
            r"descend expected every state to have one floating dtype, got image: "
            r"float64, hidden: float64, label: float32",
        ),
    ]
    for call, match in cases:
        with pytest.raises((ValueError, TypeError), match=match):
            call()


def test_trajectory_memory_guard(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states()
    with pytest.raises(
        ValueError,
        match=r"descend would need 7629.4 MiB to save the trajectory \(1000000001 slots "
        r"of 8 bytes\), over the budget of 1024.0 MiB",
    ):
        hamax.descend(ham, xs, steps=10**9, save=hamax.Save(energy=True))
    with pytest.raises(ValueError, match=r"over the budget of 0.0 MiB"):
        hamax.descend(ham, xs, steps=10, save=hamax.Save(states=True, max_bytes=100))
    with pytest.raises(ValueError, match=r"Save expected `max_bytes` to be a positive"):
        hamax.Save(max_bytes=0)
    sol = hamax.descend(ham, xs, steps=10, save=hamax.Save(states=True))
    assert sol.trajectory["image"].shape == (11, 2, 3)


def test_clamp_errors(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    cases = [
        (
            lambda: ham.clamp({"imag": xs["image"]}),
            r"clamp got layer 'imag', which is not a neuron layer .* Did you mean 'image'",
        ),
        (
            lambda: ham.clamp({"image": xs["image"][0]}),
            r"clamp expected the value of layer 'image' to have shape \(2, 3\), got \(3,\)",
        ),
        (
            lambda: ham.clamp({"image": xs["image"][None]}),
            r"got \(1, 2, 3\). It acts on one example; batch with jax.vmap",
        ),
        (
            lambda: ham.clamp({"image": jnp.ones((2, 3), int)}),
            r"clamp expected a floating-point value for layer 'image', got dtype int",
        ),
        (
            lambda: ham.clamp(masks={"image": jnp.ones((2, 3), bool)}),
            r"clamp got a mask for 'image' but no value for it",
        ),
        (
            lambda: ham.clamp({"image": xs["image"]}, {"image": jnp.ones(4, bool)}),
            r"clamp expected masks\['image'\] broadcastable to the layer shape \(2, 3\)",
        ),
        (
            lambda: ham.clamp({"image": xs["image"]}, {"image": jnp.ones((2, 3))}),
            r"clamp expected masks\['image'\] to be a boolean array, got dtype float",
        ),
        (
            lambda: ham.clamp({"image": xs["image"]}, {"image": True}),
            r"clamp got mask True for 'image': a wholly clamped layer needs no mask",
        ),
        (lambda: ham.clamp(xs), r"clamp got every layer clamped, so nothing can move"),
    ]
    for call, match in cases:
        with pytest.raises(ValueError, match=match):
            call()


def test_deprecated_spellings_warn_and_still_work(getkey):
    ham = bounded_ham(getkey())
    xs = ham.init_states(scale=1.0, key=getkey())
    new = hamax.descend(
        ham,
        xs,
        dt=0.1,
        steps=4,
        save=hamax.Save(energy=True, states=True),
        adjoint=hamax.Remat(),
    )
    with pytest.warns(
        DeprecationWarning,
        match=r"descend\(save_energy=, save_states=\) "
        r"is deprecated; pass save=hamax.Save",
    ):
        old = hamax.descend(
            ham, xs, dt=0.1, steps=4, save_energy=True, save_states=True
        )
    assert tree_allclose(old.energies, new.energies, rtol=0)
    with pytest.warns(
        DeprecationWarning, match=r"descend\(checkpoint=True\) is deprecated"
    ):
        hamax.descend(ham, xs, dt=0.1, steps=4, checkpoint=True)
    with pytest.warns(
        DeprecationWarning,
        match=r"descend\(adjoint='implicit'\) is "
        r"deprecated; pass adjoint=hamax.Implicit\(\)",
    ):
        hamax.descend(
            ham, xs, dt=0.1, stop=hamax.Converged(max_steps=5000), adjoint="implicit"
        )
    from hamax import training as T

    x = jr.normal(getkey(), (4, 2, 3))
    y = jnp.array([0, 1, 2, 0])
    tiny = hamax.HAM(
        {
            "image": hamax.NeuronLayer(L.Tanh(), (2, 3)),
            "label": hamax.NeuronLayer(L.Softmax(), 3),
        },
        {"m": S.DenseHiddenSynapse(5)},
        [(("image", "label"), "m")],
        key=getkey(),
    )
    with pytest.warns(
        DeprecationWarning,
        match=r"pass objective=hamax.training."
        r"Classification",
    ):
        a = T.forward(tiny, x, steps=3, dt=0.2, checkpoint=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = T.forward(tiny, x, steps=3, dt=0.2, adjoint=hamax.BPTT())
        c = T.Classification(dt=0.2, steps=3).predict(tiny, x)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, c)
    optim = T.adamw()
    state = T.init_opt_state(tiny, optim)
    with pytest.warns(DeprecationWarning, match=r"make_step\(\.\.\., steps=, dt="):
        _, _, loss_old, acc = T.make_step(
            tiny, state, x, y, optim=optim, steps=3, dt=0.2
        )
    _, _, loss_new, m = T.make_step(
        tiny,
        state,
        {"image": x, "label": y},
        optim=optim,
        objective=T.Classification(dt=0.2, steps=3),
    )
    np.testing.assert_allclose(loss_old, loss_new, rtol=0)
    np.testing.assert_allclose(acc, m["accuracy"], rtol=0)
