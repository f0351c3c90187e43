"""A recipient's read and its disclosure are one service call; the selectors only read."""

from __future__ import annotations

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from steward.audit.actor import Actor
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import selectors, services
from steward.sharing.models import Disclosure
from steward.sharing.selectors import Release
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.sharing.conftest import request_flow

pytestmark = pytest.mark.django_db

FIELDS = ["session-attendance.learner_source_id", "session-attendance.date", "session-attendance.mark"]


@pytest.fixture
def release(school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity) -> Release:
    flow = request_flow(school, attendance_service, exchange)
    with tenant_scope([school.id]):
        approved = services.flow_approve(flow=flow, actor=Actor.system("DPO"), fields=FIELDS)
        found = selectors.release_for([approved], "session-attendance")
    assert found is not None
    return found


def _disclosures(school: Organisation) -> list[Disclosure]:
    with tenant_scope([school.id]):
        return list(Disclosure.objects.order_by("id"))


def test_each_page_read_is_exactly_one_disclosure_of_that_page(
    school: Organisation, attendance_service: Recipient, release: Release
) -> None:
    pages = []
    since = 0
    with tenant_scope([school.id]):
        for _ in range(3):  # the school has three marks: pages of two, one, then none
            page = services.read_records_page(
                school_id=school.id, recipient_id=attendance_service.id, release=release, since=since, limit=2
            )
            pages.append((since, page))
            since = page.next_since
    assert [p.count for _, p in pages] == [2, 1, 0]
    logged = _disclosures(school)
    assert len(logged) == 2  # one per page with records; the empty page releases nothing
    for disclosure, (since, page) in zip(logged, pages, strict=False):
        assert disclosure.record_ids == page.record_ids
        assert (disclosure.version_from, disclosure.version_to) == (since, page.next_since)
        assert (disclosure.recipient_id, disclosure.record_type, disclosure.channel) == (
            attendance_service.id,
            "session-attendance",
            Disclosure.Channel.API,
        )
        assert disclosure.flows == list(release.flow_ids)


def test_the_selector_alone_writes_nothing(
    school: Organisation, attendance_service: Recipient, release: Release
) -> None:
    with tenant_scope([school.id]), CaptureQueriesContext(connection) as queries:
        page = selectors.records_page_json(school_id=school.id, release=release, since=0, limit=10)
    assert page.count == 3
    assert _disclosures(school) == []
    statements = [q["sql"].lstrip().upper() for q in queries.captured_queries]
    assert not [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_page_whose_disclosure_cannot_be_written_is_not_handed_out(
    school: Organisation, attendance_service: Recipient, release: Release
) -> None:
    """The read and the log are one transaction: when the log refuses the row, the caller gets an
    error instead of the records, and nothing of the attempt stays."""
    with pytest.raises(DataError), tenant_scope([school.id]):
        services.read_records_page(
            school_id=school.id,
            recipient_id=attendance_service.id,
            release=release,
            since=0,
            limit=10,
            channel="no-such-channel-longer-than-the-column",
        )
    assert _disclosures(school) == []
    # and the same read with a valid channel is logged once, with the session still usable
    with tenant_scope([school.id]):
        services.read_records_page(
            school_id=school.id, recipient_id=attendance_service.id, release=release, since=0, limit=10
        )
    assert len(_disclosures(school)) == 1
