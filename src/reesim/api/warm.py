"""Imported once by the job forkserver (:data:`reesim.api.jobs.PRELOAD`): warms what every job reuses.

Importing this module simulates one year of the baseline. That builds the default world, loads
the dataset and fills the in-process caches (configuration, world, solver set-up); every job's
process is forked from the server that imported it and starts with them warm. It is imported
by nothing else (an import with a side effect, on purpose and only here).
"""

from __future__ import annotations

import warnings


def warm() -> None:
    """Simulate the baseline's first year (results discarded)."""
    from reesim.scenario.load import load_scenario
    from reesim.simulate import simulate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc = load_scenario("baseline")
        start = sc.horizon.start
        simulate(sc.model_copy(update={"horizon": sc.horizon.model_copy(update={"end": start})}))


warm()
