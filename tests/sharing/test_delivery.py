"""Scheduled exports and signed webhooks: approved fields only, deltas, disclosures, failures, retries."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import importlib
import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Max

from steward.audit.actor import Actor
from steward.core.schedule import SCHEDULE, due
from steward.core.sealed import unseal
from steward.ingest.services import batch_ingest
from steward.mis.models import Learner, SessionAttendance, Tombstone
from steward.register.models import ProcessingActivity, Recipient
from steward.sharing import delivery, services
from steward.sharing.models import DataFlow, DeliveryAttempt, Disclosure, FlowDelivery
from steward.sharing.tasks import deliver_due_flows, deliver_flow_task, retry_delay
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests.ingest import builders as b
from tests.sharing.conftest import request_flow

pytestmark = pytest.mark.django_db

APPROVED_FIELDS = [
    "learners.legal_forename",
    "learners.legal_surname",
    "learners.date_of_birth",
    "session-attendance.learner_source_id",
    "session-attendance.date",
    "session-attendance.session",
    "session-attendance.mark",
]


@pytest.fixture(autouse=True)
def loopback_receivers_allowed(settings: Any) -> None:
    """The receivers in these tests listen on loopback, which production refuses unless listed."""
    settings.OUTBOUND_ALLOWED_PRIVATE = ["127.0.0.1"]


def approve(
    school: Organisation, recipient: Recipient, activity: ProcessingActivity, delivery_: str, **target: str
) -> DataFlow:
    flow = request_flow(school, recipient, activity, delivery=delivery_, frequency="daily")
    with tenant_scope([school.id]):
        flow = services.flow_approve(flow=flow, actor=Actor.system("DPO"), fields=APPROVED_FIELDS)
        delivery.delivery_target_set(flow=flow, **target)
    return flow


@pytest.fixture
def export_flow(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity, tmp_path: Path
) -> DataFlow:
    return approve(school, attendance_service, exchange, "export", export_folder=str(tmp_path))


@dataclass
class Receiver:
    url: str = ""
    status: int = 200
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP endpoint on the loopback interface that records what it is sent."""
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(received.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/steward"
    yield received
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def webhook_flow(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity, receiver: Receiver
) -> DataFlow:
    return approve(
        school, attendance_service, exchange, "webhook", webhook_url=receiver.url, webhook_secret="shared-secret"
    )


def top_versions(school: Organisation) -> tuple[int, int]:
    with tenant_scope([school.id]):
        learners = Learner.objects.aggregate(v=Max("change_version"))["v"]
        marks = SessionAttendance.objects.aggregate(v=Max("change_version"))["v"]
    return learners, marks


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def disclosures(school: Organisation) -> list[tuple[str, str, int, list[str]]]:
    with tenant_scope([school.id]):
        return [(d.record_type, d.channel, d.record_count, d.record_ids) for d in Disclosure.objects.order_by("id")]


def watermarks(school: Organisation, flow: DataFlow) -> dict[str, int]:
    with tenant_scope([school.id]):
        return dict(FlowDelivery.objects.filter(flow=flow).values_list("record_type", "delivered_to_version"))


def ingest_changes(school: Organisation) -> None:
    changes = {
        "learners": [b.learner("L2", legal_forename="Priyanka", gender="F", ethnicity="AIND")],
        "session-attendance": [b.mark("L2", "2026-09-04", "AM")],
    }
    batch_ingest(
        school=school,
        stream=io.BytesIO(b.csv_zip(changes, deletes=[("session-attendance", "L1:2026-09-03:PM")])),
        format="csv-zip",
        mode="delta",
        sent_by="test",
    )


def test_an_export_writes_one_file_per_type_with_only_the_approved_fields(
    school: Organisation, export_flow: DataFlow, tmp_path: Path
) -> None:
    attempt = delivery.deliver_flow(flow_id=export_flow.id)

    assert attempt is not None
    assert (attempt.status, attempt.record_count, attempt.attempt, attempt.target, attempt.detail) == (
        "succeeded",
        5,
        1,
        str(tmp_path),
        "",
    )
    learners_to, marks_to = top_versions(school)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{school.urn}-learners-{learners_to}.csv",
        f"{school.urn}-session-attendance-{marks_to}.csv",
    ]
    learners = read_csv(tmp_path / f"{school.urn}-learners-{learners_to}.csv")
    assert learners[0] == ["change_version", "source_id", "legal_forename", "legal_surname", "date_of_birth"]
    assert [row[1:] for row in learners[1:]] == [
        ["L1", "Sam", "Jones", "2015-03-02"],
        ["L2", "Priya", "Jones", "2015-03-02"],
    ]
    marks = read_csv(tmp_path / f"{school.urn}-session-attendance-{marks_to}.csv")
    assert marks[0] == ["change_version", "source_id", "learner_source_id", "date", "session", "mark"]
    assert [row[1] for row in marks[1:]] == ["L1:2026-09-03:AM", "L1:2026-09-03:PM", "L2:2026-09-03:AM"]
    assert disclosures(school) == [
        ("learners", "export", 2, ["L1", "L2"]),
        ("session-attendance", "export", 3, ["L1:2026-09-03:AM", "L1:2026-09-03:PM", "L2:2026-09-03:AM"]),
    ]
    assert watermarks(school, export_flow) == {"learners": learners_to, "session-attendance": marks_to, "deletes": 0}


def test_a_second_run_writes_nothing_and_the_next_batch_only_its_changes(
    school: Organisation, export_flow: DataFlow, tmp_path: Path
) -> None:
    delivery.deliver_flow(flow_id=export_flow.id)
    first_files = sorted(p.name for p in tmp_path.iterdir())

    again = delivery.deliver_flow(flow_id=export_flow.id)
    assert again is not None
    assert (again.status, again.record_count) == ("succeeded", 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == first_files
    assert len(disclosures(school)) == 2

    ingest_changes(school)
    later = delivery.deliver_flow(flow_id=export_flow.id)

    assert later is not None
    assert (later.status, later.record_count) == ("succeeded", 3)
    learners_to, marks_to = top_versions(school)
    with tenant_scope([school.id]):
        deleted_to = Tombstone.objects.get().change_version
    new_files = sorted(p.name for p in tmp_path.iterdir() if p.name not in first_files)
    assert new_files == [
        f"{school.urn}-deletes-{deleted_to}.csv",
        f"{school.urn}-learners-{learners_to}.csv",
        f"{school.urn}-session-attendance-{marks_to}.csv",
    ]
    assert [r[1:] for r in read_csv(tmp_path / new_files[1])[1:]] == [["L2", "Priyanka", "Jones", "2015-03-02"]]
    assert [r[1] for r in read_csv(tmp_path / new_files[2])[1:]] == ["L2:2026-09-04:AM"]
    deletes = read_csv(tmp_path / new_files[0])
    assert deletes[0] == ["change_version", "record_type", "source_id", "deleted_at"]
    assert [r[1:3] for r in deletes[1:]] == [["session-attendance", "L1:2026-09-03:PM"]]
    assert disclosures(school)[2:] == [
        ("learners", "export", 1, ["L2"]),
        ("session-attendance", "export", 1, ["L2:2026-09-04:AM"]),
    ]
    assert watermarks(school, export_flow) == {
        "learners": learners_to,
        "session-attendance": marks_to,
        "deletes": deleted_to,
    }


def test_a_json_export_has_the_webhook_shape(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity, tmp_path: Path
) -> None:
    flow = approve(school, attendance_service, exchange, "export", export_folder=str(tmp_path), export_format="json")
    delivery.deliver_flow(flow_id=flow.id)

    learners_to, _ = top_versions(school)
    body = json.loads((tmp_path / f"{school.urn}-learners-{learners_to}.json").read_text())
    assert (body["school_urn"], body["record_type"], body["next_since"]) == (school.urn, "learners", learners_to)
    assert [sorted(r) for r in body["records"]] == [
        ["change_version", "date_of_birth", "legal_forename", "legal_surname", "source_id"]
    ] * 2


def test_an_export_to_a_missing_folder_fails_and_discloses_nothing(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity, tmp_path: Path
) -> None:
    flow = approve(school, attendance_service, exchange, "export", export_folder=str(tmp_path / "gone"))
    attempt = delivery.deliver_flow(flow_id=flow.id)

    assert attempt is not None
    assert attempt.status == "failed"
    assert attempt.detail.startswith("FileNotFoundError: ")
    assert disclosures(school) == []
    assert watermarks(school, flow) == {"learners": 0, "session-attendance": 0, "deletes": 0}


@pytest.mark.dates
def test_a_webhook_posts_signed_pages(school: Organisation, webhook_flow: DataFlow, receiver: Receiver) -> None:
    attempt = delivery.deliver_flow(flow_id=webhook_flow.id)

    assert attempt is not None
    assert (attempt.status, attempt.record_count, attempt.target) == ("succeeded", 5, receiver.url)
    bodies = [json.loads(body) for _, body in receiver.requests]
    learners_to, marks_to = top_versions(school)
    assert [(b["school_urn"], b["record_type"], len(b["records"]), b["next_since"]) for b in bodies] == [
        (school.urn, "learners", 2, learners_to),
        (school.urn, "session-attendance", 3, marks_to),
    ]
    assert sorted(bodies[0]["records"][0]) == [
        "change_version",
        "date_of_birth",
        "legal_forename",
        "legal_surname",
        "source_id",
    ]
    for headers, body in receiver.requests:
        signed = headers["x-steward-timestamp"].encode() + b"." + body
        expected = "sha256=" + hmac.new(b"shared-secret", signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-steward-signature"], expected)
        assert abs(int(headers["x-steward-timestamp"]) - dt.datetime.now(tz=dt.UTC).timestamp()) < 60
        assert headers["content-type"] == "application/json"
    assert [d[:3] for d in disclosures(school)] == [("learners", "webhook", 2), ("session-attendance", "webhook", 3)]


def test_a_refusing_receiver_fails_the_attempt_and_the_next_run_resends(
    school: Organisation, webhook_flow: DataFlow, receiver: Receiver
) -> None:
    receiver.status = 500
    failed = delivery.deliver_flow(flow_id=webhook_flow.id)

    assert failed is not None
    assert (failed.status, failed.attempt, failed.record_count) == ("failed", 1, 0)
    assert failed.detail == f"DeliveryFailed: {receiver.url} answered 500 for learners"
    assert disclosures(school) == []
    assert watermarks(school, webhook_flow) == {"learners": 0, "session-attendance": 0, "deletes": 0}

    again = delivery.deliver_flow(flow_id=webhook_flow.id)
    assert again is not None
    assert (again.status, again.attempt) == ("failed", 2)

    receiver.status = 204
    recovered = delivery.deliver_flow(flow_id=webhook_flow.id)
    assert recovered is not None
    assert (recovered.status, recovered.attempt, recovered.record_count) == ("succeeded", 3, 5)
    assert [json.loads(body)["record_type"] for _, body in receiver.requests] == [
        "learners",
        "learners",
        "learners",
        "session-attendance",
    ]
    learners_to, marks_to = top_versions(school)
    assert watermarks(school, webhook_flow) == {"learners": learners_to, "session-attendance": marks_to, "deletes": 0}
    assert [d[:3] for d in disclosures(school)] == [("learners", "webhook", 2), ("session-attendance", "webhook", 3)]


def test_an_unreachable_receiver_fails_the_attempt(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity
) -> None:
    flow = approve(
        school, attendance_service, exchange, "webhook", webhook_url="http://127.0.0.1:1/", webhook_secret="s"
    )
    attempt = delivery.deliver_flow(flow_id=flow.id)

    assert attempt is not None
    assert attempt.status == "failed"
    assert attempt.detail.startswith("ConnectError: ")
    assert disclosures(school) == []


@pytest.mark.parametrize(
    "url", ["https://[::ffff:127.0.0.1]/", "https://[64:ff9b::a9fe:a9fe]/", "https://[2002:a00:1::]/"]
)
def test_a_webhook_at_an_ipv6_form_of_an_inside_address_is_refused(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity, url: str
) -> None:
    with pytest.raises(ValidationError, match="private, loopback or link-local"):
        approve(school, attendance_service, exchange, "webhook", webhook_url=url, webhook_secret="s")


def test_a_suspended_flow_delivers_nothing(school: Organisation, export_flow: DataFlow, tmp_path: Path) -> None:
    with tenant_scope([school.id]):
        services.flow_suspend(flow=export_flow, actor=Actor.system("DPO"))

    assert delivery.deliver_flow(flow_id=export_flow.id) is None
    assert list(tmp_path.iterdir()) == []
    assert disclosures(school) == []
    with tenant_scope([school.id]):
        assert DeliveryAttempt.objects.count() == 0


def test_the_task_delivers_at_once_with_the_immediate_backend(
    school: Organisation, export_flow: DataFlow, tmp_path: Path
) -> None:
    result = deliver_flow_task.enqueue(export_flow.id)

    assert (result.status, result.return_value) == ("SUCCESSFUL", "succeeded")
    assert len(list(tmp_path.iterdir())) == 2


def test_the_daily_sweep_enqueues_due_export_and_webhook_flows(
    school: Organisation,
    export_flow: DataFlow,
    attendance_service: Recipient,
    exchange: ProcessingActivity,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    api_flow = request_flow(school, attendance_service, exchange, frequency="daily")
    with tenant_scope([school.id]):
        services.flow_approve(flow=api_flow, actor=Actor.system("DPO"), fields=APPROVED_FIELDS)

    assert delivery.due_flow_ids(frequency="daily") == [export_flow.id]
    assert delivery.due_flow_ids(frequency="weekly") == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = deliver_due_flows.enqueue("daily")

    assert (result.return_value, len(callbacks)) == (1, 1)
    assert len(list(tmp_path.iterdir())) == 2


def test_retries_back_off_exponentially_up_to_six_hours() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 10)] == [60, 120, 240, 21600]


def test_the_schedule_names_what_is_due_in_local_time() -> None:
    london = dt.timezone(dt.timedelta(hours=1))  # BST, as Europe/London on these dates
    sunday_3am = dt.datetime(2026, 6, 7, 3, 0, 30, tzinfo=london)
    monday_2am = dt.datetime(2026, 6, 8, 2, 0, tzinfo=london)

    assert [e.kwargs for e in due(monday_2am)] == [{"frequency": "daily"}]
    assert [e.kwargs for e in due(sunday_3am)] == [{"frequency": "weekly"}]
    assert due(monday_2am + dt.timedelta(minutes=1)) == []
    backups = "steward.retention.tasks.backup_"
    assert [e.task for e in due(monday_2am + dt.timedelta(minutes=30))] == [f"{backups}create_task"]  # nightly
    assert [e.task for e in due(sunday_3am + dt.timedelta(minutes=30))] == [f"{backups}verify_task"]  # weekly
    assert not [e for e in due(monday_2am + dt.timedelta(minutes=90)) if e.task.startswith(backups)]
    assert due(dt.datetime(2026, 6, 8, 2, 0, tzinfo=dt.UTC)) == []  # 03:00 in London
    with pytest.raises(ValueError, match="aware"):
        due(dt.datetime(2026, 6, 8, 2, 0))  # noqa: DTZ001
    assert {e.task for e in SCHEDULE} == {
        "steward.sharing.tasks.deliver_due_flows",
        "steward.rights.tasks.send_rights_reminders",
        "steward.retention.tasks.retention_sweep_task",
        "steward.retention.tasks.backup_create_task",
        "steward.retention.tasks.backup_verify_task",
        "steward.retention.tasks.backup_expire_task",
        "steward.core.tasks.sweep_rate_limits",
        "steward.core.tasks.prune_task_results",
        "steward.signins.tasks.sweep_tokens_task",
        "steward.provisioning.tasks.provision_nightly",
        "steward.servicedesk.tasks.support_access_sweep",
        "steward.monitoring.tasks.detect_task",
        "steward.audit.tasks.seal_task",
        "steward.signins.tasks.sweep_sessions_task",
    }


def test_the_webhook_secret_is_stored_sealed(webhook_flow: DataFlow) -> None:
    """Readable only with the data key, which lives outside the database."""
    with tenant_scope([webhook_flow.school_id]), connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM sharing_deliverytarget WHERE flow_id = %s", [webhook_flow.id])
        (stored,) = cursor.fetchone()  # type: ignore[misc]
    assert stored.startswith("fernet:") and "shared-secret" not in stored
    assert unseal(stored) == "shared-secret"


def test_the_migration_seals_secrets_stored_before_sealing(webhook_flow: DataFlow) -> None:
    from types import SimpleNamespace

    from django.apps import apps

    migration = importlib.import_module("steward.sharing.migrations.0003_seal_webhook_secrets")
    with tenant_scope([webhook_flow.school_id]), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sharing_deliverytarget SET webhook_secret = 'old-plain' WHERE flow_id = %s", [webhook_flow.id]
        )
    with tenant_scope([webhook_flow.school_id]):  # live models check the scope; historical ones do not
        migration.seal_existing(apps, SimpleNamespace(connection=connection))
    with tenant_scope([webhook_flow.school_id]), connection.cursor() as cursor:
        cursor.execute("SELECT webhook_secret FROM sharing_deliverytarget WHERE flow_id = %s", [webhook_flow.id])
        (stored,) = cursor.fetchone()  # type: ignore[misc]
    assert stored.startswith("fernet:") and unseal(stored) == "old-plain"


def test_a_file_format_of_another_service_or_none_is_refused(
    school: Organisation, attendance_service: Recipient, exchange: ProcessingActivity, tmp_path: Path
) -> None:
    """`oneroster-csv` is written by rostering (registered through `core.flow_formats`) for rostering
    flows only; an attendance flow cannot ask for it, nor for a format nobody writes."""
    with pytest.raises(ValidationError, match="written for rostering flows only"):
        approve(
            school, attendance_service, exchange, "export", export_folder=str(tmp_path), export_format="oneroster-csv"
        )
    with pytest.raises(ValidationError, match="'xml' is not a file format Steward writes"):
        approve(school, attendance_service, exchange, "export", export_folder=str(tmp_path), export_format="xml")
