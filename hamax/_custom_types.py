"""jaxtyping aliases shared across hamax."""

from jaxtyping import Array, Bool, Float, Shaped


Scalar = Float[Array, ""]
State = Float[Array, "*shape"]
States = dict[str, Float[Array, "..."]]
Activations = dict[str, Float[Array, "..."]]
Mask = Bool[Array, "*shape"] | bool
AnyArray = Shaped[Array, "..."]
