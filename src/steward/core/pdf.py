"""HTML to PDF with WeasyPrint, for documents Steward renders itself (privacy notices, access bundles).

The fetcher allows no protocol at all: the print templates carry their CSS inline and no images,
so nothing in a document (a school-supplied name, a link) can make the server fetch a URL.

WeasyPrint (with fontTools and Pango) is imported on the first render, not when the URLconf loads:
the import costs seconds of CPU, and a web worker that only serves pages should not pay it at boot.
`renders` counts the documents rendered by this process, so a test can prove a cache was used.
"""

from __future__ import annotations

renders = 0


def html_to_pdf(html: str) -> bytes:
    global renders
    from weasyprint import HTML, URLFetcher

    pdf: bytes = HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=())).write_pdf()
    renders += 1
    return pdf
