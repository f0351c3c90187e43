"""Rights requests: statutory deadlines, extensions, and execution through every provider."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile

import pytest
from django.core.exceptions import ValidationError

from steward.audit.actor import Actor
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner, ProcessingRestriction
from steward.rights import services
from steward.rights.deadlines import latest_extension, response_deadline
from steward.rights.models import RightsRequest
from steward.rights.selectors import open_requests, overdue_requests
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories
from tests.ingest import builders as b

# The requests are received on fixed days in November 2026, and a request received after today is
# refused: so today is set, and `make test-dates` checks that no other day leaks in.
pytestmark = [pytest.mark.time_machine(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)), pytest.mark.dates]


@pytest.mark.parametrize(
    ("received", "due", "latest"),
    [
        (dt.date(2026, 3, 3), dt.date(2026, 4, 3), dt.date(2026, 6, 3)),
        (dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 4, 30)),
        (dt.date(2027, 12, 15), dt.date(2028, 1, 15), dt.date(2028, 3, 15)),
        (dt.date(2028, 1, 30), dt.date(2028, 2, 29), dt.date(2028, 4, 30)),
    ],
)
def test_one_calendar_month_extendable_by_two(received: dt.date, due: dt.date, latest: dt.date) -> None:
    assert (response_deadline(received), latest_extension(received)) == (due, latest)


@pytest.fixture
def school() -> Organisation:
    school = factories.school("Rights Primary")
    batch_ingest(
        school=school, stream=io.BytesIO(b.csv_zip(b.small_school())), format="csv-zip", mode="full", sent_by="t"
    )
    return school


def _log(school: Organisation, kind: str, received_on: dt.date = dt.date(2026, 11, 2)) -> RightsRequest:
    with tenant_scope([school.id]):
        learner = Learner.objects.get(source_id="L1")
        return services.request_log(
            school=school,
            kind=kind,
            subject_kind="learner",
            subject_id=learner.id,
            subject_label="Sam Jones",
            requested_by="Alex Jones (parent)",
            received_on=received_on,
            actor=Actor.system("DPO"),
        )


@pytest.mark.django_db
def test_an_extension_needs_a_reason_and_stays_within_three_months(school: Organisation) -> None:
    request = _log(school, "access")
    with tenant_scope([school.id]):
        with pytest.raises(ValidationError, match="record why"):
            services.request_extend(request=request, to=dt.date(2027, 1, 2), reason=" ", actor=Actor.system("DPO"))
        with pytest.raises(ValidationError, match="no later than 02 February 2027"):
            services.request_extend(
                request=request, to=dt.date(2027, 2, 3), reason="complex", actor=Actor.system("DPO")
            )
        services.request_extend(
            request=request, to=dt.date(2027, 2, 2), reason="Numerous records", actor=Actor.system("DPO")
        )
        assert request.due == dt.date(2027, 2, 2)


@pytest.mark.django_db
def test_overdue_requests_stand_out(school: Organisation) -> None:
    late = _log(school, "access", received_on=dt.date(2026, 9, 1))
    _log(school, "restriction", received_on=dt.date(2026, 11, 20))
    with tenant_scope([school.id]):
        assert [r.id for r in overdue_requests(today=dt.date(2026, 11, 25))] == [late.id]
        assert [r.kind for r in open_requests()] == ["access", "restriction"]


@pytest.mark.django_db
def test_an_access_bundle_gathers_every_app_once_identity_is_checked(school: Organisation) -> None:
    request = _log(school, "access")
    with tenant_scope([school.id]):
        with pytest.raises(ValidationError, match="identity"):
            services.access_bundle(request=request, actor=Actor.system("DPO"), out=io.BytesIO())
        services.request_mark_identity_checked(request=request, actor=Actor.system("DPO"))
        bundle = io.BytesIO()
        services.access_bundle(request=request, actor=Actor.system("DPO"), out=bundle)
        request.refresh_from_db()
    document = json.loads(zipfile.ZipFile(bundle).read("bundle.json"))
    held = document["held"]
    assert [r["source_id"] for r in held["mis"]["mis.Learner"]] == ["L1"]
    assert len(held["mis"]["mis.SessionAttendance"]) == 2
    assert held["rights"]["rights.RightsRequest"][0]["kind"] == "Access (Art. 15)"
    assert "sharing" in held and held["sharing"]["sharing.Disclosure"] == []
    assert request.status == "in_progress"  # downloading is reading: only sending completes (test_rights_journey)


@pytest.mark.django_db
def test_a_restriction_request_reaches_every_provider(school: Organisation) -> None:
    request = _log(school, "restriction")
    with tenant_scope([school.id]):
        services.request_mark_identity_checked(request=request, actor=Actor.system("DPO"))
        services.restriction_apply(request=request, restricted=True, actor=Actor.system("DPO"))
        assert list(ProcessingRestriction.objects.values_list("source_id", flat=True)) == ["L1"]
        assert [e.action for e in request.events.all()] == ["logged", "identity_checked", "restricted", "completed"]


@pytest.mark.django_db
def test_a_request_of_another_school_is_out_of_sight(school: Organisation) -> None:
    _log(school, "access")
    other = factories.school("Other School")
    with tenant_scope([other.id]):
        assert RightsRequest.objects.count() == 0


@pytest.mark.django_db
def test_erasure_previews_then_erases_notifies_recipients_and_keeps_a_proof(school: Organisation) -> None:
    from steward.mis.models import Tombstone
    from steward.register.models import Recipient
    from steward.sharing.models import Disclosure

    la = Recipient.objects.get(code="la-attendance")
    with tenant_scope([school.id]):
        Disclosure.objects.create(
            school=school,
            recipient=la,
            flows=[1],
            record_type="session-attendance",
            channel="api",
            record_count=2,
            version_from=0,
            version_to=9,
            record_ids=["L1:2026-09-03:AM"],
            subject_ids=["L1"],
        )
    request = _log(school, "erasure")
    with tenant_scope([school.id]):
        services.request_mark_identity_checked(request=request, actor=Actor.system("DPO"))
        preview = services.erasure_preview(request=request)
        assert preview["mis"].deleted["mis.Learner"] == 1
        assert "sharing.Disclosure" in preview["sharing"].kept
        assert Learner.objects.filter(source_id="L1").exists()
        proof = services.erasure_execute(request=request, actor=Actor.system("DPO"))
        assert not Learner.objects.filter(source_id="L1").exists()
        assert ("learners", "L1") in set(Tombstone.objects.values_list("record_type", "source_id"))
        assert list(request.notifications.values_list("recipient__code", "record_types")) == [
            ("la-attendance", ["session-attendance"])
        ]
    assert proof.deleted["mis.Learner"] == 1 and proof.deleted["mis.SessionAttendance"] == 2
    assert "L1" not in json.dumps(proof.deleted) + json.dumps(proof.kept)
