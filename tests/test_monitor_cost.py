"""The default stability check costs nothing where its report is not read.

`descend` reports an unstable descent (`RESULTS.unstable`) from a few energy
evaluations after the loop. A jitted loop that never reads `solution.result`
must not keep them alive: the check that raises (`throw=True`) depends only on
what raises. Counted, not timed: the energy of a marker synapse goes through
`sin` while its gradient goes through `cos`, so the `sine` ops in the compiled
program are the energy evaluations that survived dead-code elimination. The
same count shows that a loop of `descend(ham, ..., clamp=...)` computes the
clamped layers' drive once, as a loop of `system.step` does.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import pytest

import hamax
from hamax import RESULTS as _RESULTS, lagrangians as L, synapses as S


R: Any = _RESULTS  # mypy reads eqx.Enumeration members as str


def marker(g):
    return 1e-3 * jnp.sum(jnp.sin(g))


def marked_system(key):
    neurons = {
        "image": hamax.NeuronLayer(L.Tanh(), 4),
        "hidden": hamax.NeuronLayer(L.Sigmoid(), 3),
        "label": hamax.NeuronLayer(L.Softmax(), 2),
    }
    synapses = {"d1": S.DenseSynapse(), "d2": S.DenseSynapse(), "m": marker}
    conns: list = [(("image", "hidden"), "d1"), (("hidden", "label"), "d2")]
    conns.append((("label",), "m"))
    ham = hamax.HAM(neurons, synapses, conns, key=key, dtype=jnp.float64)
    img = jr.normal(jr.fold_in(key, 1), (4,), jnp.float64)
    return ham, img


def energies_in(f, ham, img) -> int:
    """The number of `sine` ops (energy evaluations) XLA keeps in jitted `f`."""
    params, static = eqx.partition(ham, eqx.is_array)
    jitted = jax.jit(lambda p, img: f(eqx.combine(p, static), img))
    return str(jitted.lower(params, img).compile().as_text()).count(" sine(")


def steps_loop(ham, img):
    """Four `system.step` calls on one clamped system: the reference loop."""
    system = ham.clamp({"image": img})
    x = system.init()
    for _ in range(4):
        x = system.step(x, 0.1)
    return x


def _loop(read_result: bool, steps: int = 1, calls: int = 4):
    def f(ham, img):
        system = ham.clamp({"image": img})
        x, result = system.init(), []
        for _ in range(calls):
            sol = hamax.descend(system, x, dt=0.1, steps=steps)
            x = sol.free
            result.append(sol.result._value)
        return (x, jnp.stack(result)) if read_result else x

    return f


def test_loop_ignoring_result_evaluates_no_energy(getkey):
    ham, img = marked_system(getkey())

    assert energies_in(steps_loop, ham, img) == 0
    for steps in (1, 3):
        assert energies_in(_loop(False, steps), ham, img) == 0
        # Reading the result keeps the check: the count sees it.
        assert energies_in(_loop(True, steps), ham, img) > 0

    # Through a training step: no more than the loop of `system.step` (whose
    # backward pass has `sin` too, as the derivative of the gradient's `cos`).
    def grad(loop):
        loss = lambda ham, img: jnp.sum(loop(ham, img)["label"] ** 2)
        return eqx.filter_grad(loss)

    assert energies_in(grad(_loop(False, 1)), ham, img) == energies_in(
        grad(steps_loop), ham, img
    )
    # The native loop's end check is dropped the same way.
    native = lambda ham, img: (
        hamax.descend(
            ham.clamp({"image": img}),
            {"hidden": jnp.zeros(3), "label": jnp.zeros(2)},
            dt=0.1,
            steps=5,
        ).free
    )
    assert energies_in(native, ham, img) == 0


def test_loop_reading_result_reports_unstable_under_jit(getkey):
    ham, img = marked_system(getkey())
    stable = eqx.filter_jit(_loop(True, 3, 2))(ham, img)[1]
    assert list(stable) == [R.successful._value] * 2
    big = hamax.HAM(
        ham.neurons,
        {**ham.synapses, "d1": jax.tree.map(lambda w: 30 * w, ham.synapses["d1"])},
        ham.connections,
    )

    @eqx.filter_jit
    def unstable(ham, img):
        system = ham.clamp({"image": img})
        sol = hamax.descend(system, system.init(), dt=20.0, steps=6)
        return sol.result._value, sol.failed_step

    code, step = unstable(big, img)
    assert int(code) == R.unstable._value and int(step) >= 5


def test_loop_ignoring_result_still_raises(getkey):
    # What raises (here: a stopping rule not met) stays checked in a loop that
    # only reads the states.
    ham, img = marked_system(getkey())

    @eqx.filter_jit
    def loop(ham, img):
        system = ham.clamp({"image": img})
        stop = hamax.Converged(atol=0.0, max_steps=2)
        return hamax.descend(system, system.init(), dt=0.1, stop=stop).free

    with pytest.raises(
        Exception, match="The maximum number of descent steps was reached"
    ):
        loop(ham, img)


def drive_marker(g_image, g_hidden):
    """A synapse whose drive on `hidden` from a clamped `image` goes through `sin`."""
    return 1e-3 * jnp.sum(jnp.sin(g_image)) * jnp.sum(g_hidden)


def test_loop_of_descend_on_a_ham_computes_the_clamped_drive_once(getkey):
    # `descend(ham, x, clamp=...)` rebuilds the clamped system at every call; the
    # clamped layers come back as the arrays given, so XLA sees the same drive
    # in every call and computes it once, as a loop of `system.step` does.
    ham, img = marked_system(getkey())
    ham = hamax.HAM(
        ham.neurons,
        {**ham.synapses, "m": drive_marker},
        [(("image", "hidden"), "d1"), (("hidden", "label"), "d2")]
        + [(("image", "hidden"), "m")],
        key=getkey(),
        dtype=jnp.float64,
    )

    def ham_loop(ham, img):
        x = {**ham.init_states(dtype=img.dtype), "image": img}
        for _ in range(4):
            sol = hamax.descend(ham, x, dt=0.1, steps=1, clamp=["image"])
            x = sol.states
        return x["label"]

    assert energies_in(steps_loop, ham, img) == 1
    assert energies_in(ham_loop, ham, img) == 1  # 4 when each call's was kept
    # ... and the clamped layer is returned unchanged, bit for bit.
    sol = hamax.descend(
        ham,
        {**ham.init_states(dtype=img.dtype), "image": img},
        dt=0.1,
        steps=2,
        clamp=["image"],
    )
    assert (sol.states["image"] == img).all()
