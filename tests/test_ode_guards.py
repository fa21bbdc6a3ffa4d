"""`hamax.solve_ode` is guarded like `hamax.descend`: bad arguments raise before any
work, runtime failures raise as one plain line, and a non-finite state is never
reported as a success."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import pytest

import hamax


pytest.importorskip("diffrax")
from hamax.ode import solve_ode  # noqa: E402

from .helpers import bounded_ham  # noqa: E402


def small_ham():
    return bounded_ham(jr.PRNGKey(0))


@pytest.fixture(scope="module")
def setup():
    ham = small_ham()
    return ham, ham.init_states(scale=1.0, key=jr.PRNGKey(1))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"t1": 0.0}, r"`t1` to be a finite number > 0, got t1=0\.0"),
        ({"t1": float("inf")}, r"`t1` to be a finite number > 0, got t1=inf"),
        ({"dt0": -0.1}, r"`dt0` to be a finite number > 0, got dt0=-0\.1"),
        ({"dt0": float("nan")}, r"`dt0` to be a finite number > 0, got dt0=nan"),
        ({"rtol": -1e-6}, r"`rtol` to be a finite number >= 0"),
        ({"atol": float("nan")}, r"`atol` to be a finite number >= 0"),
        ({"steady_rtol": float("inf")}, r"`steady_rtol` to be a finite number >= 0"),
        ({"steady_atol": -1.0}, r"`steady_atol` to be a finite number >= 0"),
        ({"rtol": 0.0, "atol": 0.0}, r"`rtol` or `atol` to be > 0"),
        ({"max_steps": 0}, r"`max_steps` to be a positive int, got max_steps=0"),
        ({"clamp": ["image", "hidden", "label"]}, r"every layer clamped"),
        ({"clamp": ["imgae"]}, r"clamp for 'imgae', which is not a neuron layer"),
    ],
)
def test_bad_arguments_raise_up_front(setup, kwargs, match):
    ham, xs = setup
    with pytest.raises(ValueError, match="solve_ode expected|solve_ode got"):
        solve_ode(ham, xs, **{"clamp": ["image"], **kwargs})
    with pytest.raises(ValueError, match=match):
        solve_ode(ham, xs, **{"clamp": ["image"], **kwargs})


def test_bad_states_raise_up_front(setup):
    ham, xs = setup
    with pytest.raises(ValueError, match=r"solve_ode is missing the state of layer"):
        solve_ode(ham, {k: v for k, v in xs.items() if k != "label"})
    with pytest.raises(ValueError, match=r"layer 'hidden' to have shape \(5,\)"):
        solve_ode(ham, {**xs, "hidden": jnp.zeros(4)})
    mixed = {**xs, "label": xs["label"].astype(jnp.float16)}
    with pytest.raises(ValueError, match=r"solve_ode expected every state to have"):
        solve_ode(ham, mixed)


def one_line(err: BaseException) -> str:
    msg = str(err)
    assert "\n" not in msg and "-----" not in msg, msg
    return msg


@pytest.mark.parametrize("layer, clamp", [("image", ["image"]), ("hidden", None)])
def test_nonfinite_x0_raises_plainly(setup, layer, clamp):
    ham, xs = setup
    bad = {**xs, layer: xs[layer].at[0].set(jnp.nan)}
    with pytest.raises(eqx.EquinoxRuntimeError) as info:
        solve_ode(ham, bad, clamp=clamp)
    assert one_line(info.value) == (
        f"solve_ode: x0[{layer!r}] contains NaN or inf; give finite initial states."
    )


@pytest.mark.parametrize("layer", ["image", "hidden"])
def test_nonfinite_is_never_successful(setup, layer):
    ham, xs = setup
    bad = {**xs, layer: xs[layer].at[0].set(jnp.inf)}
    sol = solve_ode(ham, bad, clamp=["image"], throw=False)
    assert sol.result == hamax.RESULTS.nonfinite


def test_max_steps_raises_plainly(setup):
    ham, xs = setup
    with pytest.raises(eqx.EquinoxRuntimeError) as info:
        solve_ode(ham, xs, clamp=["image"], max_steps=2)
    assert one_line(info.value).startswith(
        "max_steps_reached: The maximum number of descent steps"
    )
    sol = solve_ode(ham, xs, clamp=["image"], max_steps=2, throw=False)
    assert sol.result == hamax.RESULTS.max_steps_reached


def test_clean_run_is_successful(setup):
    ham, xs = setup
    sol = solve_ode(ham, xs, clamp={"image": True}, t1=1e3)
    assert sol.result == hamax.RESULTS.successful
    assert bool(jnp.isfinite(sol.energy))
    assert bool(jnp.all(sol.states["image"] == xs["image"]))
