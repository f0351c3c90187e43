"""CSV that a person opens in a spreadsheet: cells that would run as formulas are made inert.

A text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice
and Google Sheets as a formula (`=HYPERLINK(...)` sends data away, `+1+cmd|' /C calc'!A0` ran commands
through DDE). MIS values are typed by many people and arrive unchecked, so every CSV Steward writes
*for people* prefixes such a cell with a single quote (OWASP's advice): the spreadsheet shows the text,
quote hidden, and runs nothing. Only text is touched: numbers, dates and booleans stay as written.
Machine formats (JSON, CTF, the API) stay exact; which writer is which is recorded in DESIGN.md.

`safe_cell` is the Python form; `safe_column` the same rule in SQL, for CSV that PostgreSQL writes
with `COPY ... TO`, so a table is not read back row by row to fix it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from psycopg import sql

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """The text as a spreadsheet will show it without running it."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_column(column: str) -> sql.Composed:
    """A select-list item: the text column `column`, made safe as `safe_cell` does, under its own name."""
    starts = sql.SQL(", ").join(sql.Literal(start) for start in FORMULA_STARTS)
    return sql.SQL("CASE WHEN left({c}, 1) IN ({starts}) THEN '''' || {c} ELSE {c} END AS {c}").format(
        c=sql.Identifier(column), starts=starts
    )


def csv_line(cells: Iterable[str]) -> str:
    """One CSV line (CRLF, as spreadsheets expect) of text cells, each made safe by `safe_cell`:
    for exports streamed a line at a time."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()
