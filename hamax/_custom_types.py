"""jaxtyping aliases shared across hamax."""

import numpy as np
from jaxtyping import Array, Bool, Float, Shaped


Scalar = Float[Array, ""]
State = Float[Array, "*shape"]
States = dict[str, Float[Array, "..."]]
Activations = dict[str, Float[Array, "..."]]
Mask = Bool[Array, "*shape"] | bool
AnyArray = Shaped[Array, "..."]

# Hyperparameters: Python floats are fixed; JAX arrays are learnable leaves.
# NumPy arrays are accepted too (e.g. from finite-difference tools).
ScalarLike = float | Float[Array, ""] | Float[np.ndarray, ""]
TensorLike = float | Float[Array, "..."] | Float[np.ndarray, "..."]
