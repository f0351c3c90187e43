"""The processor's Backups page: every copy newest first, in plain words, with its last verification;
filtered by verification status (an unknown status is a 400 at its field); audited; administrators only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from steward.audit.models import AuditEvent
from steward.retention.backups.scheduled import NO_KEY
from steward.retention.models import BackupCopy
from steward.retention.services import backup_record
from steward.tenancy.models import Role
from steward.tenancy.scope import processor_scope
from tests import factories
from tests.backoffice.conftest import sign_in

pytestmark = pytest.mark.django_db
TAKEN = dt.datetime(2026, 11, 1, 2, 30, tzinfo=dt.UTC)


def _copy(days: int, school_ids: list[int], **verified: object) -> BackupCopy:
    copy = backup_record(
        taken_at=TAKEN + dt.timedelta(days=days),
        place="uk-backup",
        location=f"steward-{days}.dump.age",
        school_ids=school_ids,
        sha256=f"{days:02d}" + "c0ffee" * 10 + "ab",
        size_bytes=3 * 1024 * 1024,
        pg_version="18.1",
    )
    BackupCopy.objects.filter(pk=copy.pk).update(**verified)
    return copy


@pytest.fixture
def copies() -> dict[str, BackupCopy]:
    alder, birch = factories.school("Alder Primary"), factories.school("Birch Academy")
    return {
        "verified": _copy(
            1,
            [alder.id, birch.id],
            verified_at=TAKEN + dt.timedelta(days=1, hours=1),
            verified_ok=True,
            verification={
                "ok": True,
                "audit_chain": {"ok": True, "checked": 812},
                "replayed": 3,
                "rows_per_school": {str(alder.id): 10, str(birch.id): 12},
            },
        ),  # fmt: skip
        "failed": _copy(
            2,
            [alder.id],
            verified_at=TAKEN + dt.timedelta(days=2, hours=1),
            verified_ok=False,
            verification={"ok": False, "error": "pg_restore failed (exit 1): could not read input file"},
        ),
        "no_key": _copy(3, [alder.id, 999999], verification={"ok": None, "note": NO_KEY}),
        "new": _copy(4, [birch.id]),
    }


def _admin(client: Client) -> None:
    sign_in(client, factories.user(Role.PROCESSOR_ADMIN, factories.processor(), email="ops@ict.invalid"))


def test_the_page_lists_every_copy_newest_first_with_its_verification_in_plain_words(
    client: Client, copies: dict[str, BackupCopy]
) -> None:
    _admin(client)
    response = client.get("/processor/backups/")
    assert response.status_code == 200
    page = response.content.decode()
    positions = [page.index(f"Backup {copies[k].pk}<") for k in ("new", "no_key", "failed", "verified")]
    assert positions == sorted(positions)  # newest first
    assert "Verified: it restores" in page and "audit log intact (812 events checked)" in page
    assert "rows of 2 schools, 3 erasure(s) and purge(s) made since applied again" in page
    assert "Failed verification" in page and "pg_restore failed (exit 1): could not read input file" in page
    assert "Not verified: no key on this server" in page and "Not verified yet" in page
    assert "Alder Primary, Birch Academy" in page and "1 school no longer with us" in page
    assert "3.0\xa0MB" in page and "PostgreSQL 18.1" in page
    assert f'SHA-256 <code title="{copies["verified"].sha256}">{copies["verified"].sha256[:12]}…</code>' in page
    assert "2 Nov 2026, 03:30" in page  # when it was verified (GMT: London's time in November)
    with processor_scope():
        [event] = AuditEvent.objects.filter(action="view", object_type="retention.BackupCopy")
    assert sorted(int(i) for i in event.object_ids) == sorted(c.pk for c in copies.values())


def test_the_list_is_filtered_by_verification_and_an_unknown_status_is_refused_at_its_field(
    client: Client, copies: dict[str, BackupCopy]
) -> None:
    _admin(client)
    page = client.get("/processor/backups/", {"status": "failed"}).content.decode()
    assert f"Backup {copies['failed'].pk}<" in page and f"Backup {copies['verified'].pk}<" not in page
    page = client.get("/processor/backups/", {"status": "unverified"}).content.decode()
    shown = {k for k, c in copies.items() if f"Backup {c.pk}<" in page}
    assert shown == {"no_key", "new"}
    refused = client.get("/processor/backups/", {"status": "lost"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "<title>Error: " in body and 'id="status-error"' in body and "is not one" in body
    assert "Backup " not in body  # lists nothing


def test_only_the_processors_administrators_see_backups(client: Client, copies: dict[str, BackupCopy]) -> None:
    sign_in(client, factories.user(Role.PROCESSOR_SUPPORT, factories.processor(), email="desk@ict.invalid"))
    assert client.get("/processor/backups/").status_code == 403
    assert "/processor/backups/" not in client.get("/processor/").content.decode()  # no menu link either


def test_a_copy_deleted_past_its_period_shows_as_deleted(client: Client, copies: dict[str, BackupCopy]) -> None:
    from django.utils import timezone

    admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, admin)
    copy = BackupCopy.objects.order_by("id").first()
    assert copy is not None
    BackupCopy.objects.filter(pk=copy.pk).update(deleted_at=timezone.now())
    page = client.get("/processor/backups/").content.decode()
    assert "Deleted from the backup folder on" in page
