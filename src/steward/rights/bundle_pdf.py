"""The subject-access bundle's PDF: the same tables as `bundle.html`, set as aligned text.

WeasyPrint lays out an HTML table cell by cell, which took 4–10 s for a learner with a school
year of attendance (about 400 rows). Aligned monospaced text is laid out line by line, in well
under a second, and prints every value: a value wider than its column is cut in the row and
printed in full on a continuation line beneath it, so nothing is lost.
"""

from __future__ import annotations

from html import escape
from typing import Any

from steward.core.pdf import html_to_pdf
from steward.rights.bundle import tables
from steward.rights.readable import Table

# Characters across a landscape A4 page at the font size below, and the widest a column may be.
LINE_CHARS = 200
COLUMN_CHARS = 32

_STYLE = """
@page { size: A4 landscape; margin: 12mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9pt; color: #0b0c0c; }
h1 { font-size: 16pt; } h2 { font-size: 11pt; margin: 14pt 0 4pt; break-after: avoid; }
dt { font-weight: bold; } dd { margin: 0 0 4pt 0; }
pre { font-family: "DejaVu Sans Mono", monospace; font-size: 6pt; white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def _widths(table: Table) -> list[int]:
    widths = [min(COLUMN_CHARS, max([len(c)] + [len(r[i]) for r in table.rows])) for i, c in enumerate(table.columns)]
    while sum(widths) + 2 * len(widths) > LINE_CHARS and max(widths) > 8:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    return widths


def _block(table: Table) -> str:
    widths = _widths(table)
    lines = ["  ".join(c[:w].ljust(w) for c, w in zip(table.columns, widths, strict=True)).rstrip()]
    for row in table.rows:
        lines.append("  ".join(v[:w].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
        lines += [f"    {c} (in full): {v}" for c, v, w in zip(table.columns, row, widths, strict=True) if len(v) > w]
    return f"<h2>{escape(table.title)}</h2><pre>{escape(chr(10).join(lines))}</pre>"


def _information(info: dict[str, Any] | None) -> str:
    """The Art. 15 information (purposes, categories, recipients, retention, rights, source) as lists."""
    if info is None:  # a document gathered before the information was part of it
        return ""

    def items(title: str, lines: list[str]) -> str:
        return f"<h2>{escape(title)}</h2><ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"

    purposes = [f"{p['service']}: {'; '.join(p['purposes'])}" for p in info["purposes"]]
    recipients = [f"Sent to {r}" for r in info["recipients"]["sent_to"]] + [
        f"May receive it: {r}" for r in info["recipients"]["may_receive"]
    ]
    return (
        items("Why the school uses this information", purposes or ["None."])
        + items("What kinds of information are held", info["categories"] or ["None."])
        + items("Who receives it", recipients or ["No record has been sent to another organisation."])
        + items("How long it is kept", info["retention"] or ["As set out in the school's privacy notice."])
        + items("Where it came from", [info["source"]])
        + items("Your rights", [*info["rights"], info["complaint"]])
    )


def bundle_pdf(document: dict[str, Any]) -> bytes:
    return html_to_pdf(pdf_source(document))


def pdf_source(document: dict[str, Any], found: list[Table] | None = None) -> str:
    """The PDF's HTML: cheap to write (milliseconds), so it is written with the bundle's JSON and
    HTML; laying it out (WeasyPrint, about a second for the heaviest learner) happens in the
    background (`rights.pdf_jobs`), from exactly this text. `found`: the document's `tables`, when
    the caller has them already (the bundle's HTML uses them too)."""
    found = found or tables(document)
    meta = (
        f"<dl><dt>Held by</dt><dd>{escape(str(document['school']))} (the controller) and its ICT service, Steward "
        f"(the processor)</dd><dt>About</dt><dd>{escape(str(document['subject']['as_named']))}</dd>"
        f"<dt>In answer to</dt><dd>{escape(str(document['request']['kind']))} request received "
        f"{escape(str(document['request']['received_on']))}</dd>"
        f"<dt>Generated</dt><dd>{escape(str(document['generated_at']))}</dd></dl>"
    )
    body = _information(document.get("information")) + "".join(
        _block(t) if t.rows else f"<h2>{escape(t.title)}</h2><p>None.</p>" for t in found
    )
    html = (
        f'<!DOCTYPE html><html lang="en-GB"><head><meta charset="utf-8"><title>Your personal data</title>'
        f"<style>{_STYLE}</style></head><body><h1>Your personal data</h1>{meta}{body}</body></html>"
    )
    return html
