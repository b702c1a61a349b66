"""The recursive simulation: steps, state, investment, results."""

from reesim.simulate.result import Result
from reesim.simulate.stepper import simulate

__all__ = ["Result", "simulate"]
