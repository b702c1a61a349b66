"""Impacts of a scenario against its counterfactual: welfare, shortages, product costs, jobs, risk, downstream tariffs."""
