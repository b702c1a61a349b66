"""Policy instruments, one module per family (DESIGN §3): how each enters a simulated step.

* :mod:`trade` — export bans, export quotas / licensing, export taxes, import tariffs and
  their exclusions (edges, quota rows, wedges);
* :mod:`technology` — technology export bans (lead time, capex, opex, learning penalties);
* :mod:`stockpile` — stock building and release;
* :mod:`support` — price floors with offtake, and subsidies;
* :mod:`demand` — demand growth paths and lagged substitution.
"""
