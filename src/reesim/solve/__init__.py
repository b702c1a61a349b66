"""Numerical solution of the QP: solver back ends, equilibrium fixed point, guards."""
