"""Strategies for [`hamax.descend`][]: stopping rules, adjoints, saves, monitors."""

from ._adjoint import (
    BPTT as BPTT,
    AbstractAdjoint as AbstractAdjoint,
    Implicit as Implicit,
    Remat as Remat,
)
from ._eqprop import EqProp as EqProp
from ._monitor import Monitor as Monitor
from ._save import Save as Save
from ._stop import AbstractStop as AbstractStop, Converged as Converged, Steps as Steps
