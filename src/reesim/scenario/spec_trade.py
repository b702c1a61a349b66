"""Trade instruments of the scenario language: export bans, licences (quotas), export taxes, import tariffs and their exclusions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from reesim.scenario.spec_base import (
    DateOrYear,
    Goods,
    InForce,
    Names,
    Rate,
    Share,
    Tonnes,
    UsdPerKg,
    _not_self,
    _Strict,
    _to_date,
)


class ExportBan(Goods, InForce):
    """Exports of the goods from ``exporter`` to ``destinations`` are forbidden (edges fixed to 0)."""

    type: Literal["export_ban"]
    exporter: str
    destinations: Names = Field("all", description="region codes or 'all'")
    no_reexport: bool = Field(
        False,
        description="rules of origin: third regions may ship the goods to the destinations only up to their own "
        "production (re-export control, as in MOFCOM Announcement 2025 No. 61)",
    )

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.exporter, self.destinations, "exporter", "destinations")
        return self


class ApprovalChange(_Strict):
    """From ``start`` on, the licence approves ``share`` for the listed destinations."""

    start: DateOrYear = Field(description="first day of the new approval share (YYYY-MM-DD or a year)")
    share: Share = Field(description="share of the counterfactual's exports approved from then on")
    destinations: Names = Field(
        "all", description="destinations it applies to (default: all of the licence's)"
    )

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v):
        return _to_date(v)


class ExportLicensing(Goods, InForce):
    """Export quota / licensing: exports limited to a tonnage or a share of the counterfactual's exports.

    ``approval_share`` is the share of the counterfactual exports licensed per destination
    (1 = what the destination would have bought without the licence); ``tonnes_per_year`` caps the total instead. ``licence_cost``
    is a per-kg compliance cost on licensed exports.

    The licence binds on element content (t REO), as China writes its controls: for each
    destination and each covered element (``content_of``, by default the elements of the
    listed goods' ``oxide:``/``metal:`` forms) the content of that element in all listed goods (oxides,
    metals, magnets) is limited; listed goods containing no covered element are limited by
    weight. ``processing_working_days`` is the review time of a licence application: nothing
    is approved in that time after ``start`` (45 working days by MOFCOM's rules); a step
    partly before ``start`` or inside the review time gets the time-weighted share.
    ``catch_up_days`` is how long after the review the exports held in it are shipped, on
    top of the approved share (applications are delayed, not refused: China's magnet
    exports made up most of the April-June 2025 trough in July-December); 0 (the default)
    means exports held in review are lost.

    A share of 1 still binds: the licence approves what the buyers would have bought without
    it (the counterfactual's exports, declared end use), not stock building on top.
    """

    type: Literal["export_quota"]
    exporter: str
    destinations: Names = "all"
    no_reexport: bool = Field(False, description="rules of origin for the destinations (see export_ban)")
    tonnes_per_year: Tonnes | None = None
    approval_share: Share | None = None
    approval_by_destination: dict[str, Share] = Field({}, description="approval share for named destinations")
    licence_cost_usd_per_kg: UsdPerKg = 0.0
    content_of: list[str] = Field(
        [],
        description="elements whose content the licence limits (default: those of the listed oxides and metals)",
    )
    processing_working_days: Annotated[int, Field(ge=0, le=1000)] = Field(
        0,
        description="review time of an application in working days: nothing approved in that time after start",
    )
    catch_up_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        0,
        description="calendar days after the review over which the exports held in it are shipped "
        "on top of the approved share (0: exports held in review are lost)",
    )
    approval_changes: list[ApprovalChange] = Field(
        [],
        max_length=100,
        description="approval shares that change over time, e.g. general licences from a date: "
        "[{start: 2025-12-19, share: 1.0, destinations: [USA]}]; the latest change on a day wins",
    )
    excluded_sectors: list[str] = Field(
        [],
        description=(
            "end users that may not receive these exports, e.g. defense: their purchases in a "
            "destination are limited to its own output and imports not from the exporter; needs "
            "the sector's use in the data (default world: U.S. defense magnets, 175 t/yr)"
        ),
    )

    @model_validator(mode="after")
    def _one_limit(self):
        if self.tonnes_per_year is None and self.approval_share is None and not self.approval_by_destination:
            raise ValueError("give tonnes_per_year, approval_share or approval_by_destination")
        if self.tonnes_per_year is not None and self.approval_changes:
            raise ValueError(
                "approval_changes change approval shares: give approval_share, not tonnes_per_year"
            )
        if self.tonnes_per_year is not None and (
            self.approval_share is not None or self.approval_by_destination
        ):
            raise ValueError("give either tonnes_per_year or approval shares, not both")
        if self.catch_up_days and self.tonnes_per_year is not None:
            raise ValueError(
                "catch_up_days ships what a review held on top of approval shares: give approval_share, "
                "not tonnes_per_year"
            )
        if self.catch_up_days and not self.processing_working_days:
            raise ValueError(
                f"catch_up_days: {self.catch_up_days} with no review (processing_working_days 0) ships "
                "nothing; give processing_working_days or drop catch_up_days"
            )
        return self

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.exporter, self.destinations, "exporter", "destinations")
        return self


class ExportTax(Goods, InForce):
    """Ad valorem export tax on the origin price."""

    type: Literal["export_tax"]
    exporter: str
    destinations: Names = "all"
    rate: Rate

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.exporter, self.destinations, "exporter", "destinations")
        return self


class ImportTariff(Goods, InForce):
    """Ad valorem import tariff on CIF value (origin price + transport)."""

    type: Literal["import_tariff"]
    importer: str
    origins: Names = "all"
    rate: Rate
    rules_of_origin: bool = Field(
        True,
        description="the duty follows the goods' origin: third regions may ship the taxed goods to the importer "
        "only up to their own output (customs rules of origin; U.S. 19 CFR Part 102), so a pooled market "
        "cannot pass the taxed origin's goods through them; false = duty on direct imports only",
    )

    @model_validator(mode="after")
    def _not_self(self):
        _not_self(self.importer, self.origins, "importer", "origins")
        return self


class TariffExclusion(InForce):
    """Exempts a share of the goods covered by a named import tariff while it lasts.

    The effective rate is ``rate x (1 - share_excluded)``; at each expiry the exclusion is
    renewed with probability ``renewal_probability`` (expected value in a single run: the
    excluded share decays by that factor at each expiry after the first).
    """

    type: Literal["tariff_exclusion"]
    tariff: str = Field(description="name of the import_tariff instrument it exempts")
    share_excluded: Share
    renewal_years: Annotated[float, Field(gt=0, le=50)] = 1.0
    renewal_probability: Share = 1.0
