"""Long lists in pages, their filters carried in the links, and their CSV downloads: one way for
every list of the back office (audit log, rights requests, disclosure log).

Paging is Django's `Paginator`: `get_page` turns an unreadable or out-of-range page number into the
nearest page, so a hand-edited `?page=` never errors. Offset paging with a count (two statements)
suits these lists: a reader jumps to a page of a filtered list, and filters keep the offsets small.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import QueryDict, StreamingHttpResponse

from steward.core import replicas

PER_PAGE = 50

M = TypeVar("M", bound=Model)


def page_of(rows: QuerySet[M], number: int | str | None, *, per_page: int = PER_PAGE) -> Page[M]:
    """One page of an ordered queryset. Its rows are read now, so a caller inside a tenant or
    processor scope gets them read under that scope, not later while a template renders."""
    page = Paginator(rows, per_page).get_page(number)
    page.object_list = list(page.object_list)
    return page


def kept_filters(query: QueryDict, keys: Iterable[str]) -> str:
    """The filter part of a list's query string (only the named keys, only if filled in), for the
    page links and the CSV link, so both show what the reader is looking at."""
    kept = QueryDict(mutable=True)
    for key in keys:
        if query.get(key):
            kept.setlist(key, query.getlist(key))
    return kept.urlencode()


def csv_download(lines: Iterable[str], filename: str) -> StreamingHttpResponse:
    """Stream CSV lines (already made safe by `core.csvsafe`) as an attachment; the exports read
    while streaming, from a replica if there is one (`core.replicas.streamed`)."""
    response = StreamingHttpResponse(replicas.streamed(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
