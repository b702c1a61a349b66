"""reesim: the contest over rare earth elements, as data and as a simulator."""

__version__ = "0.1.0"
