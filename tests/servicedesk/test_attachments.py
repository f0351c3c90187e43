"""Ticket attachments through real HTTP: uploaded with a request or a reply (refused all-or-nothing,
naming the file and why), scanned and warned about, stored outside the web root under a random key
(0600), downloaded as attachments by those who can see the ticket (audited), quarantined or redacted
by the school behind a confirmation page, invisible to another school, and deleted from disk with
their ticket (retention, the termination purge) once the deletion commits."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.actor import Actor
from steward.audit.models import AuditEvent
from steward.mis.identifiers import make_upn
from steward.retention.services import retention_sweep
from steward.retention.termination import termination_purge, termination_start
from steward.servicedesk import attachments, services
from steward.servicedesk.models import Ticket, TicketAttachment, TicketEvent
from steward.tenancy.models import Contract, Organisation, Role, User
from steward.tenancy.scope import estate_scope, processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.servicedesk.test_scanner import docx, zipped
from tests.servicedesk.test_tickets import raise_ticket

MONDAY = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)
pytestmark = [pytest.mark.django_db, pytest.mark.time_machine(MONDAY)]
DESK = ("hosted_mis", "service_desk")
UPN = make_upn("881", "2001", 19, 123)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
CSV = f"upn,name,email\n{UPN},Jane Smith,jane@parents.example\n".encode()


@pytest.fixture(autouse=True)
def store(settings: SettingsWrapper, tmp_path: Path) -> Path:
    folder = tmp_path / "attachments"
    settings.STEWARD_ATTACHMENT_DIR = folder
    return folder


@pytest.fixture
def alder() -> Organisation:
    return factories.school("Alder Primary", services_=DESK)


@pytest.fixture
def dpo(alder: Organisation) -> User:
    return factories.user(Role.SCHOOL_DPO, alder, email="dpo@alder.invalid")


@pytest.fixture
def school(client: Client, dpo: User, alder: Organisation) -> Client:
    sign_in(client, dpo)
    choose(client, alder)
    return client


@pytest.fixture
def desk() -> Client:
    client = Client()
    sign_in(client, factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="sam@ict.invalid"))
    return client


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def form(**extra: Any) -> dict[str, Any]:
    return {"category": "mis_feed", "urgency": "normal", "summary": "Upload rejected", **extra}


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()) if folder.exists() else []


def every_attachment() -> list[TicketAttachment]:
    with estate_scope():
        return list(TicketAttachment.objects.select_related("ticket").order_by("id"))


def test_a_request_with_a_file_is_scanned_stored_outside_the_web_root_and_downloaded(
    school: Client, desk: Client, store: Path
) -> None:
    response = school.post(
        "/school/service-desk/new/",
        form(
            description="The export below was rejected; ask office@alder.invalid",
            attachments=[upload("../../etc/Rejected rows <1>.csv", CSV), upload("screen.png", PNG)],
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rows, image = every_attachment()
    ticket = rows.ticket
    assert (rows.file_name, rows.kind, rows.content_type, rows.size) == (
        "Rejected rows _1_.csv",
        "csv",
        "text/csv; charset=utf-8",
        len(CSV),
    )
    assert rows.findings["counts"] == {"upn": 1, "email": 1}
    assert UPN not in str(rows.findings) and "jane@" not in str(rows.findings)
    assert image.findings["scanned"] is False

    # On disk: only random keys, 0600, in a folder the settings did not make; never the user's name.
    on_disk = files_in(store)
    assert sorted(p.name for p in on_disk) == sorted([rows.storage_key, image.storage_key])
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in on_disk)
    assert (store / rows.storage_key).read_bytes() == CSV

    # The school is warned about what it typed, and the ticket page says what each file seems to hold.
    page = school.get(response["Location"]).content.decode()
    assert "What you wrote looks like it contains 1 email address" in page
    assert "Rejected rows _1_.csv looks like it contains 1 pupil UPN and 1 email address" in page
    assert "screen.png was not scanned for personal data: images are not scanned" in page

    got = school.get(f"/school/service-desk/{ticket.pk}/attachments/{rows.pk}/")
    assert got.status_code == 200
    assert got["Content-Disposition"] == 'attachment; filename="Rejected rows _1_.csv"'
    assert got["X-Content-Type-Options"] == "nosniff" and got["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(got.streaming_content) == CSV  # type: ignore[attr-defined]
    by_desk = desk.get(f"/processor/service-desk/{ticket.pk}/attachments/{rows.pk}/")
    assert by_desk.status_code == 200 and b"".join(by_desk.streaming_content) == CSV  # type: ignore[attr-defined]
    with processor_scope():
        downloads = AuditEvent.objects.filter(action="download", object_type="servicedesk.TicketAttachment")
        assert [e.object_ids for e in downloads.order_by("id")] == [[str(rows.pk)], [str(rows.pk)]]
        assert AuditEvent.objects.filter(action="ticket_attachment_upload").count() == 1


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("big.pdf", b"%PDF-1.4\n" + b"0" * attachments.MAX_BYTES, "big.pdf is 10.0 MB: it must be smaller than 10 MB"),
        ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04", "setup.pdf must be a PDF, PNG, JPEG"),
        ("report.pdf", PNG, "report.pdf is a PNG image but its name ends in .pdf"),
        ("empty.txt", b"", "empty.txt is empty"),
        (
            "minutes.docx",
            zipped(
                {
                    "[Content_Types].xml": b"<Types/>",
                    "word/document.xml": b"<d/>",
                    "pad.bin": b"\0" * (60 * 1024 * 1024),
                }
            ),
            "minutes.docx would unpack to more than 50 MB",
        ),
    ],
)
def test_a_refused_file_refuses_the_whole_request_and_says_which_and_why(
    school: Client, store: Path, name: str, data: bytes, says: str
) -> None:
    response = school.post(
        "/school/service-desk/new/",
        form(description="See the files", attachments=[upload("fine.csv", b"a,b\n"), upload(name, data)]),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert says in page and 'href="#id_attachments"' in page and "<title>Error: " in page
    with estate_scope():
        assert not Ticket.objects.exists()
    assert every_attachment() == [] and files_in(store) == []


def test_replies_carry_files_up_to_the_limits(school: Client, desk: Client, dpo: User, alder: Organisation) -> None:
    ticket = raise_ticket(alder, dpo)
    url = f"/school/service-desk/{ticket.pk}/"

    def logs(n: int) -> list[SimpleUploadedFile]:
        return [upload(f"log{i}.txt", b"line\n") for i in range(n)]

    # Refused by the count alone: none is read or scanned, so the fake PDF among them is not even judged.
    fake = upload("report.pdf", b"not a pdf at all\n")
    refused = school.post(url, {"action": "reply", "body": "Logs", "attachments": [*logs(5), fake]})
    page = refused.content.decode()
    assert refused.status_code == 400 and "Choose 5 files or fewer at a time (you chose 6)" in page
    assert "report.pdf" not in page
    assert every_attachment() == []

    sent = school.post(url, {"action": "reply", "body": "Logs", "attachments": logs(5)})
    assert sent.status_code == 302
    reply = desk.post(
        f"/processor/service-desk/{ticket.pk}/",
        {"action": "reply", "body": "Try this", "attachments": [upload("fix.txt", b"steps\n")]},
    )
    assert reply.status_code == 302
    saved = every_attachment()
    assert len(saved) == 6 and saved[-1].from_processor and all(a.message_id for a in saved)
    more = [upload(f"more{i}.txt", b"x\n") for i in range(5)]
    full = school.post(url, {"action": "reply", "body": "More logs", "attachments": more})
    assert full.status_code == 400
    assert "A request can have 10 attachments at most; this one has 6, so you can add 4 more" in full.content.decode()
    assert len(every_attachment()) == 6


def test_the_dpo_quarantines_a_file_and_the_desk_can_no_longer_open_it(
    school: Client, desk: Client, dpo: User, alder: Organisation, store: Path
) -> None:
    ticket = _with_files(alder, dpo, ("pupils.docx", docx(f"Jane Smith {UPN}")))
    [attachment] = every_attachment()
    url = f"/school/service-desk/{ticket.pk}/attachments/{attachment.pk}/quarantine/"
    confirm = school.get(url)
    assert confirm.status_code == 200
    assert "Are you sure you want to quarantine pupils.docx?" in confirm.content.decode()
    assert school.post(url, {}).status_code == 200  # no confirmation: the question again, nothing done
    assert every_attachment()[0].status == "available"

    done = school.post(url, {"confirm": "yes"}, follow=True)
    assert "pupils.docx is quarantined: only your school" in done.content.decode()
    [attachment] = every_attachment()
    assert (attachment.status, attachment.status_by_label) == ("quarantined", str(dpo))
    refused = desk.get(f"/processor/service-desk/{ticket.pk}/attachments/{attachment.pk}/")
    assert refused.status_code == 403 and "quarantined by the school" in refused.content.decode()
    page = desk.get(f"/processor/service-desk/{ticket.pk}/").content.decode()
    assert "Quarantined by the school" in page and f"/attachments/{attachment.pk}/" not in page
    assert school.get(f"/school/service-desk/{ticket.pk}/attachments/{attachment.pk}/").status_code == 200
    with processor_scope():
        audited = AuditEvent.objects.filter(action="ticket_attachment_quarantine", object_ids=[str(attachment.pk)])
        assert audited.exists()
    with tenant_scope([alder.id]):
        assert TicketEvent.objects.filter(ticket=ticket, action="attachment", to_value="pupils.docx quarantined")
    again = school.post(url, {"confirm": "yes"}, follow=True)
    assert "pupils.docx is already quarantined by the school" in again.content.decode()


def test_the_dpo_redacts_a_csv_and_only_the_redacted_file_is_kept(
    school: Client, dpo: User, alder: Organisation, store: Path, django_capture_on_commit_callbacks: Any
) -> None:
    ticket = _with_files(alder, dpo, ("export.csv", CSV), ("screen.png", PNG))
    rows, image = every_attachment()
    original = store / rows.storage_key
    with django_capture_on_commit_callbacks(execute=True):
        done = school.post(
            f"/school/service-desk/{ticket.pk}/attachments/{rows.pk}/redact/", {"confirm": "yes"}, follow=True
        )
    assert "export.csv is redacted" in done.content.decode()
    rows = every_attachment()[0]
    assert rows.status == "redacted" and rows.findings["redacted"] == {"upn": 1, "email": 1}
    assert not original.exists()
    kept = (store / rows.storage_key).read_bytes()
    assert kept == b"upn,name,email\n[redacted],Jane Smith,[redacted]\n" and rows.size == len(kept)
    got = school.get(f"/school/service-desk/{ticket.pk}/attachments/{rows.pk}/")
    assert b"".join(got.streaming_content) == kept  # type: ignore[attr-defined]

    # An image cannot be redacted: the page says so and offers nothing to confirm; a forced post changes nothing.
    page = school.get(f"/school/service-desk/{ticket.pk}/attachments/{image.pk}/redact/").content.decode()
    assert "screen.png cannot be redacted here" in page and 'name="confirm"' not in page
    refused = school.post(
        f"/school/service-desk/{ticket.pk}/attachments/{image.pk}/redact/", {"confirm": "yes"}, follow=True
    )
    assert "only text and CSV files can be redacted here" in refused.content.decode()
    assert every_attachment()[1].status == "available"


def test_a_quarantined_file_is_not_redacted_out_of_quarantine(
    school: Client, dpo: User, alder: Organisation, store: Path
) -> None:
    ticket = _with_files(alder, dpo, ("export.csv", CSV))
    [rows] = every_attachment()
    base = f"/school/service-desk/{ticket.pk}/attachments/{rows.pk}/"
    school.post(base + "quarantine/", {"confirm": "yes"})
    refused = school.post(base + "redact/", {"confirm": "yes"}, follow=True)
    assert "export.csv is quarantined: it stays closed to the ICT service" in refused.content.decode()
    [rows] = every_attachment()
    assert rows.status == "quarantined" and (store / rows.storage_key).read_bytes() == CSV


def test_another_schools_staff_cannot_reach_the_files(alder: Organisation, dpo: User, client: Client) -> None:
    ticket = _with_files(alder, dpo, ("export.csv", CSV))
    [attachment] = every_attachment()
    birch = factories.school("Birch Academy", services_=DESK)
    other = factories.user(Role.SCHOOL_DPO, birch)
    sign_in(client, other)
    choose(client, birch)
    base = f"/school/service-desk/{ticket.pk}/attachments/{attachment.pk}/"
    assert client.get(base).status_code == 404
    for url in (base + "quarantine/", base + "redact/"):
        assert client.get(url).status_code == 404
        assert client.post(url, {"confirm": "yes"}).status_code == 404
    assert every_attachment()[0].status == "available"
    with processor_scope():
        assert not AuditEvent.objects.filter(action="download").exists()
    # Another school's user is refused by the service too, even if handed the row.
    with tenant_scope([alder.id]), pytest.raises(PermissionError):
        attachments.quarantine(attachment=attachment, user=other, actor=Actor.system("x"))


def test_retention_deletes_the_files_with_their_ticket_after_the_sweep_commits(
    alder: Organisation, dpo: User, store: Path, django_capture_on_commit_callbacks: Any
) -> None:
    resolved = MONDAY - dt.timedelta(days=120)
    ticket = _with_files(alder, dpo, ("export.csv", CSV), now=resolved - dt.timedelta(days=1))
    kept = _with_files(alder, dpo, ("other.csv", b"a,b\n"))
    with tenant_scope([alder.id]):
        services.ticket_resolve(ticket=ticket, note="Done", actor=Actor.system("Desk"), now=resolved)
    gone, stays = every_attachment()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        retention_sweep(today=MONDAY.date(), schools=[alder], processor_wide=False)
        assert (store / gone.storage_key).exists()  # not before the deletion commits
    for callback in callbacks:
        callback()
    assert not (store / gone.storage_key).exists() and (store / stays.storage_key).exists()
    assert [a.ticket_id for a in every_attachment()] == [kept.pk]


def test_the_termination_purge_deletes_the_schools_files(
    settings: SettingsWrapper, tmp_path: Path, alder: Organisation, dpo: User, store: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    settings.STEWARD_TERMINATION_DIR = tmp_path / "terminations"
    _with_files(alder, dpo, ("export.csv", CSV))
    [attachment] = every_attachment()
    termination = termination_start(contract=Contract.objects.get(school=alder), requested_by="Admin", reason="Ends")
    with django_capture_on_commit_callbacks(execute=True):
        termination_purge(termination=termination, confirmed_by="Admin", override_window=True)
    assert not (store / attachment.storage_key).exists()
    assert every_attachment() == []


def raise_ticket_with(school: Organisation, by: User, uploads: list[attachments.Upload], **kw: Any) -> Ticket:
    with tenant_scope([school.id]):
        return services.ticket_raise(
            school=school,
            raised_by=by,
            category="other",
            urgency="low",
            summary="Files",
            description="See the files",
            actor=Actor.of_user(by, organisation_id=school.id),
            attachments=uploads,
            now=kw.get("now"),
        )


def _with_files(school: Organisation, by: User, *named: tuple[str, bytes], now: dt.datetime | None = None) -> Ticket:
    uploads = attachments.read_uploads([upload(n, d) for n, d in named])
    return raise_ticket_with(school, by, uploads, now=now)
