"""Downstream tariffs: a GSIM-style partial-equilibrium model of the U.S. Section 301 duties on China.

A package, one concept a module, in the data's direction:

* :mod:`.schedule`: a product group (:class:`TariffGroup`), its schedule of rate steps and
  exclusions (:class:`RateStep`);
* :mod:`.incidence`: the partial-equilibrium incidence model of one group under one duty
  (:func:`solve_group`, :class:`GroupOutcome`; Francois & Hall 1997, the GSIM structure);
* :mod:`.loader`: the shipped ``tariff_groups.csv`` and its validation (:func:`load_groups`);
* :mod:`.queries`: one group at one date (:func:`outcome_at`, :func:`magnet_tariff_rate`,
  :func:`import_price_change`);
* :mod:`.annual`: the year x group tables over a window (:func:`programme`,
  :func:`exclusion_effect`).

Every public name is re-exported here, so ``from reesim.impacts.tariffs import X`` keeps
working.
"""

from reesim.impacts.tariffs.annual import FLOW_FIELDS as FLOW_FIELDS
from reesim.impacts.tariffs.annual import PRICE_FIELDS as PRICE_FIELDS
from reesim.impacts.tariffs.annual import exclusion_effect, programme
from reesim.impacts.tariffs.incidence import GroupOutcome, solve_group
from reesim.impacts.tariffs.loader import CSV_COLUMNS, load_groups
from reesim.impacts.tariffs.loader import GROUP_COLUMNS as GROUP_COLUMNS
from reesim.impacts.tariffs.loader import default_path as default_path
from reesim.impacts.tariffs.queries import (
    MAGNET_GROUP,
    import_price_change,
    magnet_tariff_rate,
    outcome_at,
)
from reesim.impacts.tariffs.schedule import RateStep, TariffGroup

__all__ = [
    "CSV_COLUMNS",
    "MAGNET_GROUP",
    "GroupOutcome",
    "RateStep",
    "TariffGroup",
    "exclusion_effect",
    "import_price_change",
    "load_groups",
    "magnet_tariff_rate",
    "outcome_at",
    "programme",
    "solve_group",
]
