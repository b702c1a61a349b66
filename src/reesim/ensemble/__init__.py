"""Ensembles: a scenario run over the ranges of its assumptions (sampling, members, bands).

:mod:`reesim.ensemble.space` says what varies, :mod:`reesim.ensemble.design` draws the
members' inputs, :mod:`reesim.ensemble.member` runs one member, :mod:`reesim.ensemble.runner`
runs them all on Dask and summarises them with DuckDB.
"""
