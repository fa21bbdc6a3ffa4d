"""hamax: Hierarchical Associative Memories in JAX."""

from . import lagrangians as lagrangians, synapses as synapses, zoo as zoo
from ._ham import HAM as HAM
from ._io._checkpoint import (
    CheckpointError as CheckpointError,
    load as load,
    read_header as read_header,
    read_meta as read_meta,
    save as save,
)
from ._io._spec import (
    SpecError as SpecError,
    from_spec as from_spec,
    register_module as register_module,
    to_spec as to_spec,
)
from ._lazy import __dir__ as __dir__, __getattr__ as __getattr__
from ._neurons import NeuronLayer as NeuronLayer, legendre_energy as legendre_energy
from ._system import ClampedSystem as ClampedSystem
from .dynamics import (
    BPTT as BPTT,
    AbstractAdjoint as AbstractAdjoint,
    AbstractStop as AbstractStop,
    Converged as Converged,
    EqProp as EqProp,
    Implicit as Implicit,
    Monitor as Monitor,
    Remat as Remat,
    Save as Save,
    Steps as Steps,
)
from .dynamics._descend import descend as descend
from .dynamics._solution import RESULTS as RESULTS, Solution as Solution
from .lagrangians import (
    Learnable as Learnable,
    learnable as learnable,
    learned_values as learned_values,
)
from .memory._retrieve import retrieve as retrieve
from .training._model_io import load_model as load_model, load_run as load_run


# The one version source: pyproject.toml reads it (setuptools dynamic version).
__version__ = "0.1.0"
