"""Building blocks of the scenario language: strict models, bounded units, dates, in-force windows, goods."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from reesim.yamlsafe import short

Rate = Annotated[
    float, Field(ge=0, le=100, description="ad valorem rate as a fraction (0.25 = 25 %), 0-100 (10,000 %)")
]
Share = Annotated[float, Field(ge=0, le=1)]
#: Largest tonnage an instrument may name: about 25 times world mine output (390 kt REO in 2024).
MAX_TONNES = 10_000_000
Tonnes = Annotated[float, Field(ge=0, le=MAX_TONNES, description="tonnes per year, at most 10 million")]
#: A stock (not a flow): tonnes held.
TonnesStock = Annotated[
    float, Field(ge=0, le=MAX_TONNES, description="tonnes held (a stock), at most 10 million")
]
#: Largest price-like figure (USD/kg) an instrument may name: ten times the dearest oxide ever quoted
#: (Tb and Dy oxide peaked near 4,000 USD/kg in 2011 and Europe 2025).
MAX_USD_PER_KG = 50_000.0
UsdPerKg = Annotated[float, Field(ge=0, le=MAX_USD_PER_KG, description="USD/kg, at most 50,000")]
#: Most instruments in one scenario (the shipped ones have under 10; checks are pairwise).
MAX_INSTRUMENTS = 500
#: Years an instrument, a growth path or a date may name.
FIRST_YEAR, LAST_YEAR = 1900, 2100
Names = str | list[str]


class _Strict(BaseModel):
    # No NaN or infinity anywhere in a scenario: every figure is finite (fields that mean
    # "no limit" are optional instead).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _to_date(value, end: bool = False) -> dt.date | None:
    """A year (2025) means 1 January, or 31 December for an end date; a date stays a date."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not FIRST_YEAR <= value <= LAST_YEAR:
            raise ValueError(f"year {value} is outside {FIRST_YEAR}-{LAST_YEAR}")
        return dt.date(value, 12, 31) if end else dt.date(value, 1, 1)
    if isinstance(value, dt.date):
        date = value
    elif isinstance(value, str):
        try:
            date = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{short(value)} is not a date (YYYY-MM-DD) or a year") from None
    else:
        raise ValueError(f"{short(value)} is not a date (YYYY-MM-DD) or a year")
    if not FIRST_YEAR <= date.year <= LAST_YEAR:
        raise ValueError(f"{date} is outside {FIRST_YEAR}-{LAST_YEAR}")
    return date


DateOrYear = Annotated[
    dt.date,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "format": "date"},
                {"type": "integer", "minimum": 1900, "maximum": 2100},
            ]
        }
    ),
]


def _not_self(own: str, others: Names, what: str, field: str) -> None:
    """A region does not trade with itself: refuse ``own`` among ``others``."""
    if isinstance(others, list) and own in others:
        raise ValueError(f"{field} lists {own}, the {what} itself; a region does not trade with itself")


class InForce(_Strict):
    """Start and optional end (inclusive) of an instrument."""

    start: DateOrYear = Field(description="first day in force (YYYY-MM-DD or a year)")
    end: DateOrYear | None = Field(
        None, description="last day in force (YYYY-MM-DD or a year); none = open-ended"
    )
    name: str | None = Field(
        None, description="optional label; a child scenario replaces a parent instrument of the same name"
    )

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, v):
        return _to_date(v)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, v):
        return _to_date(v, end=True)

    @model_validator(mode="after")
    def _order(self):
        if self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def in_force(self, when: dt.date) -> bool:
        """Whether the instrument applies on ``when``."""
        return self.start <= when and (self.end is None or when <= self.end)


class Goods(_Strict):
    """What an instrument covers: commodities by name, or all commodities of some elements or stages."""

    commodities: list[str] = Field([], description="commodity names, e.g. oxide:Dy, magnet:ndfeb")
    elements: list[str] = Field([], description="elements: every oxide:E and metal:E")
    stages: list[Literal["concentrate", "oxide", "metal", "magnet"]] = Field(
        [], description="stages: every commodity of the stage"
    )

    @model_validator(mode="after")
    def _some(self):
        if not (self.commodities or self.elements or self.stages):
            raise ValueError("name at least one of commodities, elements or stages")
        return self
