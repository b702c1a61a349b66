"""HTML building blocks of the reports: escaping, numbers, tables, notes and plotly figures."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def esc(value: Any) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def num(value: Any, digits: int = 0, sign: bool = False, unit: str = "") -> str:
    """``value`` with thousands separators (``"–"`` for a missing value), optionally signed and with a unit."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    if not np.isfinite(x):
        return "–"
    if round(x, digits) == 0:
        return f"{0:.{digits}f} {unit}".rstrip() if unit else f"{0:.{digits}f}"
    text = f"{x:{'+' if sign else ''},.{digits}f}"
    return f"{text} {unit}".rstrip() if unit else text


def _td(value: Any, numeric: bool, nowrap: bool = False) -> str:
    cls = " ".join(c for c, on in (("num", numeric), ("nowrap", nowrap)) if on)
    return f'<td class="{cls}">{value}</td>' if cls else f"<td>{value}</td>"


def table_html(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    caption: str,
    numeric: Sequence[int] = (),
    raw: bool = False,
    cls: str = "",
    nowrap: Sequence[int] = (),
) -> str:
    """A table in a ``<figure>`` with its caption; cells are escaped unless ``raw``.

    ``numeric`` columns are right-aligned and ``nowrap`` columns kept on one line. A table of nine
    columns or more is set in the small type, so that it fits the page's width.
    """
    if len(headers) >= 9 and "small" not in cls.split():
        cls = f"{cls} small".strip()
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for r in rows:
        cells = "".join(_td(v if raw else esc(v), i in numeric, i in nowrap) for i, v in enumerate(r))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(headers)}" class="empty">no rows</td></tr>')
    return (
        f'<figure class="table {cls}"><div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div><figcaption>{caption}</figcaption></figure>"
    )


def code(text: str) -> str:
    """Inline code."""
    return f"<code>{esc(text)}</code>"


_SCRIPT = re.compile(r"<script[^>]*>(.*?)</script>", re.S | re.I)


def script_hash(text: str) -> str:
    """A Content-Security-Policy source for an inline script: ``'sha256-<base64>'`` of its text."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def script_hashes(markup: str) -> list[str]:
    """The CSP sources of every inline script in ``markup`` (HTML reesim's own code wrote)."""
    return [script_hash(m) for m in _SCRIPT.findall(markup)]


def content_security_policy(hashes: Sequence[str]) -> str:
    """The report's policy: no script but those reesim wrote (by hash, so a script that reached the
    page by an escaping mistake does not run, nor does an event-handler attribute), nothing loaded
    from anywhere, inline styles and ``data:``/``blob:`` images (plotly's), no forms, no base URL.
    W3C, *Content Security Policy Level 3*, §2.3.1 (hash sources)."""
    return (
        f"default-src 'none'; script-src {' '.join(dict.fromkeys(hashes))}; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; connect-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


@dataclass
class Page:
    """Collects the figures of the report (each a plotly div and its ``Plotly.newPlot`` script) and
    the hashes of the scripts it wrote (:func:`content_security_policy`)."""

    n_figures: int = 0
    geo: bool = False
    figure_ids: list[str] = field(default_factory=list)
    script_hashes: list[str] = field(default_factory=list)

    def figure(self, fig: go.Figure, caption: str) -> str:
        """A figure and its caption as HTML."""
        self.n_figures += 1
        div_id = f"figure-{self.n_figures}"
        self.figure_ids.append(div_id)
        self.geo = self.geo or any(tr.type in ("choropleth", "scattergeo") for tr in fig.data)
        height = fig.layout.height or 450
        body = pio.to_html(
            fig,
            include_plotlyjs=False,
            full_html=False,
            config=PLOTLY_CONFIG,
            div_id=div_id,
            default_width="100%",
            default_height=f"{height}px",
            validate=False,
        )
        self.script_hashes += script_hashes(body)  # plotly's own output: the figure's newPlot script
        return f'<figure class="plot"><div class="plotbox">{body}</div><figcaption>{caption}</figcaption></figure>'


def note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{text}</p>'


def absent(table: str) -> str:
    return note(f"{code(table + '.parquet')} is not in the run folder: nothing to show here.", "absent")


def usd_range(lo: float, hi: float) -> str:
    """A signed USD change, or its range when the low and high ends differ."""
    if abs(hi - lo) < 0.005:
        return num(lo, 2, sign=True)
    return f"{num(lo, 2, sign=True)} to {num(hi, 2, sign=True)}"
