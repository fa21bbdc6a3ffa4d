"""Equilibrium propagation: a gradient estimator from two relaxations."""

import math
from typing import Any

import equinox as eqx

from .._misc import suggest
from ._adjoint import AbstractAdjoint
from ._stop import AbstractStop


_NUDGINGS = ("positive", "negative", "centered")


class EqProp(AbstractAdjoint):
    r"""Equilibrium propagation (Scellier & Bengio 2017): estimate the gradient of
    an objective's loss from relaxations of the HAM, with no backward pass
    through the dynamics.

    Give it to an objective as its `adjoint`, e.g.
    `hamax.training.Classification(adjoint=hamax.EqProp(beta=0.1))`. The free
    phase is the objective's own descent (its `dt` and `steps` or `stop`). A
    nudged phase then continues from the free fixed point on the total energy
    plus $\beta$ times the objective's cost $C$ of the layer activations,
    $F_\beta = E + \beta C$. With $\partial_\theta F$ taken at fixed states,
    the estimate is

    - `"positive"`: $\big(\partial_\theta F_{\beta}(s_{\beta}) -
      \partial_\theta E(s_0)\big)/\beta$;
    - `"negative"`: $\big(\partial_\theta E(s_0) -
      \partial_\theta F_{-\beta}(s_{-\beta})\big)/\beta$;
    - `"centered"` (symmetric, Laborieux et al. 2021):
      $\big(\partial_\theta F_{\beta}(s_{\beta}) -
      \partial_\theta F_{-\beta}(s_{-\beta})\big)/(2\beta)$.

    One-sided estimates are off by $O(\beta)$ from the gradient at the free
    fixed point, the centered one by $O(\beta^2)$. The loss value reported is
    the free phase's. See docs/equilibrium_propagation.md.

    **Arguments:**

    - `beta`: the nudging strength, a finite number > 0.
    - `nudging`: `"positive"`, `"negative"` or `"centered"` (default).
    - `nudged`: the stopping rule of the nudged phase(s) ([`hamax.Steps`][] or
      [`hamax.Converged`][]); `None` (default) uses the free phase's.

    ??? cite "References"

        ```bibtex
        @article{scellier2017equilibrium,
          title={Equilibrium Propagation: Bridging the Gap between Energy-Based
                 Models and Backpropagation},
          author={Scellier, Benjamin and Bengio, Yoshua},
          journal={Frontiers in Computational Neuroscience}, year={2017}}
        @article{laborieux2021scaling,
          title={Scaling Equilibrium Propagation to Deep ConvNets by Drastically
                 Reducing Its Gradient Estimator Bias},
          author={Laborieux, Axel and Ernoult, Maxence and Scellier, Benjamin and
                  Bengio, Yoshua and Grollier, Julie and Querlioz, Damien},
          journal={Frontiers in Neuroscience}, year={2021}}
        ```
    """

    # Validated by hand in __check_init__, with messages that say how to fix
    # them, so the annotations are deliberately loose (as in hamax.HAM).
    beta: Any = eqx.field(static=True, default=0.1)
    nudging: Any = eqx.field(static=True, default="centered")
    nudged: Any = eqx.field(static=True, default=None)

    def __check_init__(self):
        b = self.beta
        if isinstance(b, bool) or not (
            isinstance(b, int | float) and math.isfinite(b) and b > 0
        ):
            raise ValueError(
                f"EqProp expected `beta` to be a finite number > 0, got {b!r}; the "
                'sign of the nudge is set by `nudging` ("positive", "negative" or '
                '"centered").'
            )
        if self.nudging not in _NUDGINGS:
            raise ValueError(
                f"EqProp expected `nudging` to be one of "
                f"{', '.join(map(repr, _NUDGINGS))}, got {self.nudging!r}."
                + (
                    suggest(self.nudging, _NUDGINGS)
                    if isinstance(self.nudging, str)
                    else ""
                )
            )
        if self.nudged is not None and not isinstance(self.nudged, AbstractStop):
            raise ValueError(
                "EqProp expected `nudged` to be a stopping rule (hamax.Steps(n) or "
                f"hamax.Converged(...)) or None, got {self.nudged!r}."
            )

    @property
    def betas(self) -> tuple[float, float]:
        """The two nudging strengths contrasted, `(upper, lower)`; 0 is the free
        phase."""
        return {
            "positive": (self.beta, 0.0),
            "negative": (0.0, -self.beta),
            "centered": (self.beta, -self.beta),
        }[self.nudging]

    def loop(self, system, free0, dt, cfg):
        del system, free0, dt, cfg
        raise ValueError(
            "hamax.EqProp estimates the gradient of an objective's loss, not of one "
            "descent, so descend cannot take it; give it to an objective instead: "
            "hamax.training.Classification(adjoint=hamax.EqProp(beta=0.1))."
        )
