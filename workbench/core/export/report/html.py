"""Small HTML builders of the report: escaped text, numbers, tables, embedded images, notes and badges.

They keep to what both browsers and Qt's QTextDocument lay out well, so the same page becomes the PDF.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from typing import Any

STATUS_COLOURS = {"problem": "#b03a2e", "warning": "#b9770e", "note": "#2563eb", "passed": "#1e8449",
                  "not checked": "#707b7c"}
FIGURE_WIDTH = 640  # px; about the text width of an A4 page in the PDF
STYLE = """
body { font-family: 'DejaVu Sans', Arial, sans-serif; color: #222; }
h1 { font-size: 20pt; color: #1a5276; }
h2 { font-size: 14pt; color: #1a5276; border-bottom: 1px solid #aab7b8; margin-top: 18px; }
h3 { font-size: 11pt; color: #2e4053; margin-top: 10px; }
th { background-color: #eaf2f8; text-align: left; }
td, th { font-size: 8.5pt; }
pre { font-size: 7.5pt; background-color: #f4f6f7; }
.note { color: #555; font-style: italic; }
.warn { color: #b9770e; font-weight: bold; }
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else esc(value)
    if isinstance(value, float) and math.isnan(value):
        return "—"
    return f"{value:.{digits}f}" if isinstance(value, float) else f"{value:,}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless `raw` (for cells that hold markup)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table border="1" cellspacing="0" cellpadding="4" width="100%"><tr>{head}</tr>{body}</table>'


def image(png: bytes, width: int = FIGURE_WIDTH, alt: str = "figure") -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<p><img src="data:image/png;base64,{data}" width="{width}" alt="{esc(alt)}"></p>'


def note(text: str) -> str:
    return f'<p class="note"><i>{esc(text)}</i></p>'


def warn(text: str) -> str:
    return f'<p class="warn"><b><font color="#b9770e">{esc(text)}</font></b></p>'


def anchor_of(section: str) -> str:
    return section.lower().replace(" ", "-")


def heading(title: str, anchor: str, page_break: bool = True) -> str:
    style = ' style="page-break-before: always"' if page_break else ""
    return f'<h2 id="{anchor}"{style}><a name="{anchor}"></a>{esc(title)}</h2>'


def badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#707b7c")
    return f'<b><font color="{colour}">{esc(status.upper())}</font></b>'
