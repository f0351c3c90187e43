"""Long lists: a page number typed by hand never errors, and only the list's filled-in filters are
carried into its page and CSV links."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from steward.core.listing import csv_download, kept_filters, page_of
from steward.register.models import Recipient


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("asked", "shown"), [(None, 1), ("2", 2), ("abc", 1), ("0", 3), ("-1", 3), ("99999999999999999999", 3)]
)
def test_a_page_number_typed_by_hand_gives_the_nearest_page(asked: str | None, shown: int) -> None:
    recipients = Recipient.objects.order_by("code")
    assert recipients.count() >= 5  # the register catalogue's recipients
    page = page_of(recipients, asked, per_page=(recipients.count() + 2) // 3)
    assert (page.number, page.paginator.num_pages) == (shown, 3)
    assert isinstance(page.object_list, list) and page.object_list


def test_only_the_named_filled_in_filters_are_kept() -> None:
    query = QueryDict("status=open&kind=&page=3&text=Sam+Jones&other=x&status=refused")
    assert kept_filters(query, ("status", "kind", "text")) == "status=open&status=refused&text=Sam+Jones"
    assert kept_filters(QueryDict("page=2"), ("status",)) == ""


def test_a_csv_download_streams_an_attachment() -> None:
    response = csv_download(iter(["a,b\r\n", "1,2\r\n"]), "audit-log.csv")
    assert response["Content-Disposition"] == 'attachment; filename="audit-log.csv"'
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content) == b"a,b\r\n1,2\r\n"  # type: ignore[arg-type]
