"""hamax: Hierarchical Associative Memories in JAX."""

from . import lagrangians as lagrangians, synapses as synapses, zoo as zoo
from ._checkpoint import (
    CheckpointError as CheckpointError,
    load as load,
    read_meta as read_meta,
    save as save,
)
from ._descend import Converged as Converged, descend as descend
from ._ham import HAM as HAM
from ._lazy import __dir__ as __dir__, __getattr__ as __getattr__
from ._neurons import NeuronLayer as NeuronLayer, legendre_energy as legendre_energy
from ._retrieve import retrieve as retrieve
from ._solution import RESULTS as RESULTS, Solution as Solution


# The one version source: pyproject.toml reads it (setuptools dynamic version).
__version__ = "0.1.0"
