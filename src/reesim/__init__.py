"""reesim: the contest over rare earth elements, as data and as a simulator."""

import pandas as _pd

__version__ = "0.1.0"

# Strings in Python-backed storage, not pandas 3's default Arrow-backed one: reesim's tables are
# small (tens to a few thousand rows) and an Arrow string operation (a comparison, ``isin``,
# ``startswith``, a take) carries a fixed cost of about 0.1-0.3 ms per call, which dominated an
# ensemble member's non-solver time; with Python storage a member took 19 % less CPU, with the
# same results (measured 2026-12-06, issue 16). The option is global to the process: it is set
# once, when reesim is imported, and only changes how new string columns are stored.
_pd.options.mode.string_storage = "python"
