"""Count the floating-point work a JAX program really does, loops included.

XLA's `cost_analysis()` counts the body of a `scan` or `while` loop once, so a
depth-7 descent is reported at about a seventh of its work. This walks the
program's jaxpr instead: matrix products and convolutions count exactly
(2 x multiply-adds), every other primitive one operation per output element, and
a loop's body counts once per iteration (a `scan` by its length; a `while` loop
by the trip count given, since a jaxpr does not state it).
"""

import math

import jax
import numpy as np
from jax.extend import core


# Primitives that move or relabel data without arithmetic (XLA counts them as 0).
MOVES = {
    "transpose",
    "reshape",
    "broadcast_in_dim",
    "convert_element_type",
    "slice",
    "dynamic_slice",
    "dynamic_update_slice",
    "concatenate",
    "pad",
    "gather",
    "scatter",
    "copy",
    "copy_p",
    "squeeze",
    "expand_dims",
    "iota",
    "rev",
    "select_n",
    "stop_gradient",
    "device_put",
    "sharding_constraint",
    "random_bits",
    "random_wrap",
    "random_unwrap",
    "random_seed",
    "threefry2x32",
}


def _size(aval) -> int:
    return int(math.prod(getattr(aval, "shape", ())))


def _dot_flops(eqn) -> int:
    (lc, _), (lb, _) = eqn.params["dimension_numbers"]
    a = eqn.invars[0].aval
    contracted = math.prod(a.shape[d] for d in lc)
    return 2 * _size(eqn.outvars[0].aval) * contracted


def _conv_flops(eqn) -> int:
    rhs = eqn.invars[1].aval  # kernel; its output-feature dimension is per output
    dn = eqn.params["dimension_numbers"]
    out_feat = rhs.shape[dn.rhs_spec[0]]
    per_output = _size(rhs) // out_feat // eqn.params["feature_group_count"]
    return 2 * _size(eqn.outvars[0].aval) * per_output


def _subjaxprs(eqn):
    for v in eqn.params.values():
        for j in v if isinstance(v, (tuple, list)) else (v,):
            if isinstance(j, core.ClosedJaxpr):
                yield j.jaxpr
            elif isinstance(j, core.Jaxpr):
                yield j


def jaxpr_flops(jaxpr, while_trips: int) -> float:
    total = 0.0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            total += _dot_flops(eqn)
        elif name == "conv_general_dilated":
            total += _conv_flops(eqn)
        elif name == "scan":
            total += eqn.params["length"] * jaxpr_flops(
                eqn.params["jaxpr"].jaxpr, while_trips
            )
        elif name == "while":
            body = eqn.params["body_jaxpr"].jaxpr
            cond = eqn.params["cond_jaxpr"].jaxpr
            total += while_trips * (
                jaxpr_flops(body, while_trips) + jaxpr_flops(cond, while_trips)
            )
        elif name == "cond":
            total += max(
                jaxpr_flops(b.jaxpr, while_trips) for b in eqn.params["branches"]
            )
        elif any(True for _ in _subjaxprs(eqn)):
            total += sum(jaxpr_flops(j, while_trips) for j in _subjaxprs(eqn))
        elif name not in MOVES:
            total += sum(_size(v.aval) for v in eqn.outvars)
    return total


def count_flops(fn, *args, while_trips: int = 1) -> float:
    """Floating-point operations of `fn(*args)` (see the module docstring),
    after removing the work whose results are never used (as XLA does: e.g. the
    energy value computed alongside its gradient)."""
    from jax._src.interpreters import partial_eval as pe

    jaxpr = jax.make_jaxpr(fn)(*args).jaxpr
    jaxpr, _ = pe.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))
    return jaxpr_flops(jaxpr, while_trips)


def xla_flops(fn, *args) -> float:
    """XLA's own estimate (each loop body once), for comparison."""
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", 0.0))


if __name__ == "__main__":  # a self-check: loop-free agreement, loops scaled
    a = np.ones((64, 128), np.float32)
    b = np.ones((128, 32), np.float32)

    def loop(a, b, n=7):
        return jax.lax.scan(lambda c, _: (c @ b @ b.T, None), a, length=n)[0]

    print(
        "matmul  ours",
        count_flops(lambda a, b: a @ b, a, b),
        "xla",
        xla_flops(lambda a, b: a @ b, a, b),
    )
    print("scan x7 ours", count_flops(loop, a, b), "xla", xla_flops(loop, a, b))
