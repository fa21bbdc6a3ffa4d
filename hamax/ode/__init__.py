"""Adaptive ODE integration of HAM dynamics with diffrax (the `ode` extra)."""

from ._diffrax import solve_ode as solve_ode
