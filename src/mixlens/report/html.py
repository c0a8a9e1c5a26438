"""A self-contained HTML report: inline CSS and SVG, opens offline, no scripts from a CDN.

Each pipeline stage contributes a :class:`Section`; :func:`render_report` lays them out.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mixlens import __version__


@dataclass(frozen=True)
class Figure:
    """An inline SVG chart with a caption."""

    svg: str
    caption: str = ""


@dataclass(frozen=True)
class Table:
    """A small table; ``formats`` maps column to a format spec such as ``",.0f"``."""

    frame: pd.DataFrame
    caption: str = ""
    formats: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metrics:
    """Headline numbers shown as cards: label to already formatted value."""

    values: Mapping[str, str]


@dataclass(frozen=True)
class Text:
    """A paragraph of plain text (escaped)."""

    text: str


Block = Figure | Table | Metrics | Text


@dataclass(frozen=True)
class Section:
    """One stage's part of the report."""

    key: str
    title: str
    lead: str
    blocks: Sequence[Block]


_CSS = """
:root { --ink:#1d2733; --muted:#5b6877; --line:#e3e8ee; --accent:#0072B2; --bg:#f7f9fb; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#0b2540; color:#fff; padding:28px 40px 22px; }
header h1 { margin:0; font-size:26px; font-weight:600; }
header p { margin:6px 0 0; color:#b9c7d6; }
nav { padding:10px 40px; background:#fff; border-bottom:1px solid var(--line);
      position:sticky; top:0; }
nav a { color:var(--accent); margin-right:18px; text-decoration:none; font-weight:500; }
main { max-width:1080px; margin:0 auto; padding:12px 24px 60px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px;
          padding:20px 26px; margin:22px 0; }
section h2 { margin:0 0 4px; font-size:20px; }
.lead { color:var(--muted); margin:0 0 14px; }
.cards { display:flex; flex-wrap:wrap; gap:12px; margin:10px 0 16px; }
.card { border:1px solid var(--line); border-radius:8px; padding:10px 14px; min-width:150px; }
.card .v { font-size:20px; font-weight:600; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
figure { margin:12px 0 18px; }
figure svg { max-width:100%; height:auto; }
figcaption, .caption { color:var(--muted); font-size:13px; margin-top:4px; }
table { border-collapse:collapse; width:100%; font-size:13.5px; margin:8px 0 4px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:right; }
th:first-child, td:first-child { text-align:left; }
th { background:#f1f4f8; font-weight:600; }
footer { color:var(--muted); font-size:12px; text-align:center; padding:20px; }
"""


def _format(value: object, spec: str | None) -> str:
    if spec and isinstance(value, int | float) and not pd.isna(value):
        return format(value, spec)
    if isinstance(value, float):
        return "" if pd.isna(value) else f"{value:,.4g}"
    return str(value)


def _render_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.frame.columns)
    rows = []
    for record in table.frame.itertuples(index=False):
        cells = "".join(
            f"<td>{html.escape(_format(v, table.formats.get(str(c))))}</td>"
            for c, v in zip(table.frame.columns, record, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    caption = f'<div class="caption">{html.escape(table.caption)}</div>' if table.caption else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{caption}"


def _render_block(block: Block) -> str:
    if isinstance(block, Figure):
        caption = f"<figcaption>{html.escape(block.caption)}</figcaption>" if block.caption else ""
        return f"<figure>{block.svg}{caption}</figure>"
    if isinstance(block, Table):
        return _render_table(block)
    if isinstance(block, Metrics):
        cards = "".join(
            f'<div class="card"><div class="v">{html.escape(v)}</div>'
            f'<div class="k">{html.escape(k)}</div></div>'
            for k, v in block.values.items()
        )
        return f'<div class="cards">{cards}</div>'
    return f"<p>{html.escape(block.text)}</p>"


def render_report(
    sections: Sequence[Section], *, title: str = "mixlens report", subtitle: str = ""
) -> str:
    """Render the report as one self-contained HTML document.

    Parameters
    ----------
    sections
        Report sections in display order.
    title, subtitle
        Page heading.

    Returns
    -------
    str
        HTML with inline CSS and SVG; no external resources.
    """
    nav = "".join(f'<a href="#{html.escape(s.key)}">{html.escape(s.title)}</a>' for s in sections)
    body = "".join(
        f'<section id="{html.escape(s.key)}"><h2>{html.escape(s.title)}</h2>'
        f'<p class="lead">{html.escape(s.lead)}</p>'
        f"{''.join(_render_block(b) for b in s.blocks)}</section>"
        for s in sections
    )
    today = dt.date.today().isoformat()
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<nav>{nav}</nav><main>{body}</main>"
        f"<footer>mixlens {__version__} &middot; generated {today}</footer>"
        "</body></html>\n"
    )
