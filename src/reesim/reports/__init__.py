"""Reports of a run folder: :func:`write_report` writes one self-contained, offline HTML file."""

from reesim.reports.html import write_report

__all__ = ["write_report"]
