"""HTML to PDF with WeasyPrint, for documents Steward renders itself (privacy notices).

The fetcher allows no protocol at all: the print templates carry their CSS inline and no images,
so nothing in a document (a school-supplied name, a link) can make the server fetch a URL.
"""

from __future__ import annotations

from weasyprint import HTML, URLFetcher


def html_to_pdf(html: str) -> bytes:
    pdf: bytes = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=())).write_pdf()
    return pdf
