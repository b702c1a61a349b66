"""Concentration and supply-risk indicators as pure functions on plain tables.

The inputs are long pandas tables in tonnes, so the same functions serve simulation results
(see :func:`stage_tables`) and data:

* production: columns ``[year], [stage], commodity, region, tonnes``;
* consumption: the same columns (final use by region);
* net imports: the same columns (imports minus exports of the region);
* bilateral trade: ``[year], [stage], commodity, exporter, importer, tonnes``.

``year`` and ``stage`` are optional (data tables may give one year, or no stage); every
indicator is computed per ``(year, stage, commodity)`` using whichever of those keys the
input has. Shares here are of the regions listed in the table, so they are complete
(the Herfindahl-Hirschman bounds of :func:`reesim.metrics.hhi_bounds` coincide).

Governance scores, end-of-life recycling input rates, substitution indices and the
economic vulnerability of users are not in reesim's dataset. The functions take them as
arguments; where one is not given they use a stated default and say so in a flag column
(``governance_weighted``, ``ev_default``, ``eol_rir_default``, ``si_default``,
``trade_parameter_default``) and in the ``basis`` text of :func:`indicators_table`.

A package, one indicator family a module, in the data's direction:

* :mod:`.inputs`: key columns and checks of the input tables;
* :mod:`.stages`: stage tables from a result (:func:`stage_tables`, :func:`net_imports_from_trade`);
* :mod:`.hhi`: top share, China's share and HHI (:func:`concentration`);
* :mod:`.reliance`: net import reliance (:func:`net_import_reliance`);
* :mod:`.governance`: the governance-weighted HHI shared by the supply-risk families;
* :mod:`.usgs`: USGS supply risk (:func:`usgs_supply_risk`, :func:`usgs_score`);
* :mod:`.eu`: EU supply risk (:func:`eu_supply_risk`, :func:`eu_score`);
* :mod:`.indicators`: the long table of all of them (:func:`indicators_table`).

Every public name is re-exported here, so ``from reesim.impacts.risk import X`` keeps working.
"""

from reesim.impacts.risk.eu import EU_WGI_SCALE, eu_score, eu_supply_risk
from reesim.impacts.risk.governance import governance_weighted_hhi
from reesim.impacts.risk.hhi import concentration
from reesim.impacts.risk.indicators import WORLD, indicators_table
from reesim.impacts.risk.inputs import CHINA, KEYS
from reesim.impacts.risk.reliance import net_import_reliance
from reesim.impacts.risk.stages import (
    OTHER_STAGE,
    STAGE_OF_PREFIX,
    STOCK_RELEASE_PREFIX,
    STOCKPILE_SECTOR,
    StageTables,
    net_imports_from_trade,
    stage_of,
    stage_tables,
)
from reesim.impacts.risk.usgs import usgs_score, usgs_supply_risk

__all__ = [
    "CHINA",
    "EU_WGI_SCALE",
    "KEYS",
    "OTHER_STAGE",
    "STAGE_OF_PREFIX",
    "STOCKPILE_SECTOR",
    "STOCK_RELEASE_PREFIX",
    "WORLD",
    "StageTables",
    "concentration",
    "eu_score",
    "eu_supply_risk",
    "governance_weighted_hhi",
    "indicators_table",
    "net_import_reliance",
    "net_imports_from_trade",
    "stage_of",
    "stage_tables",
    "usgs_score",
    "usgs_supply_risk",
]
