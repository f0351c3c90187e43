"""Contract termination pages: only processor admins end contracts and purge; the school downloads its export."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.audit.models import AuditEvent
from steward.notices.models import NoticeVersion
from steward.retention import termination
from steward.retention.models import ContractTermination
from steward.retention.services import hold_place
from steward.tenancy import services as tenancy_services
from steward.tenancy.models import Contract, Organisation, Role, User
from steward.tenancy.scope import processor_scope, tenant_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in
from tests.notify_fixtures import SmtpSink

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _exports(settings: SettingsWrapper, tmp_path: Path) -> None:
    settings.STEWARD_TERMINATION_DIR = tmp_path


def test_a_school_admin_cannot_end_a_contract_and_nothing_changes(
    client: Client, admin_a: User, school_a: Organisation
) -> None:
    sign_in(client, admin_a)
    contract = Contract.objects.get(school=school_a)
    assert (
        client.post(f"/processor/contracts/{contract.pk}/end/", {"reason": "x", "action": "confirm"}).status_code == 403
    )
    assert client.get(f"/processor/contracts/{contract.pk}/end/").status_code == 403
    assert client.get("/processor/terminations/").status_code == 403
    with processor_scope():  # terminations are the processor's records
        assert not ContractTermination.objects.exists()
    assert Contract.objects.get(pk=contract.pk).status == contract.status


def test_a_processor_admin_ends_a_contract_and_the_school_downloads_its_export(
    client: Client, admin_a: User, school_a: Organisation, school_b: Organisation
) -> None:
    processor_admin = factories.user(Role.PROCESSOR_ADMIN, factories.processor())
    sign_in(client, processor_admin)
    contract = Contract.objects.get(school=school_a)
    end = f"/processor/contracts/{contract.pk}/end/"
    assert client.post(end, {"reason": "Joining a trust", "action": "confirm"}).status_code == 302
    with processor_scope():
        termination = ContractTermination.objects.get(school=school_a)
    page = client.get("/processor/terminations/").content.decode()
    assert f"Purge {school_a.name}" not in page  # not offered before the window has passed
    assert "Waiting: the school has until" in page
    # Before the window has passed the purge is refused and nothing is deleted.
    client.post(f"/processor/terminations/{termination.pk}/purge/")
    with processor_scope():
        assert ContractTermination.objects.get(pk=termination.pk).purged_at is None
    assert client.get(f"/processor/terminations/{termination.pk}/certificate/").status_code == 404

    school_client = Client()
    sign_in(school_client, admin_a)
    choose(school_client, school_a)
    response = school_client.get("/school/export/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"PK"  # type: ignore[attr-defined]
    other = Client()
    sign_in(other, factories.user(Role.SCHOOL_ADMIN, school_b))
    choose(other, school_b)
    assert other.get("/school/export/").status_code == 404  # another school's export is not theirs


@pytest.fixture
def processor_client(client: Client) -> Client:
    sign_in(client, factories.user(Role.PROCESSOR_ADMIN, factories.processor()))
    return client


def _nothing_ended(contract: Contract) -> None:
    assert Contract.objects.get(pk=contract.pk).status == contract.status
    with processor_scope():
        assert not ContractTermination.objects.exists()


def test_ending_a_contract_without_a_reason_is_refused_at_the_field(
    processor_client: Client, school_a: Organisation, smtp_sink: SmtpSink
) -> None:
    contract = Contract.objects.get(school=school_a)
    form = processor_client.get(f"/processor/contracts/{contract.pk}/end/")
    assert form.status_code == 200 and "Why is the contract ending?" in form.content.decode()
    for action in ("check", "confirm"):  # a forged confirm without a reason is refused too
        response = processor_client.post(f"/processor/contracts/{contract.pk}/end/", {"reason": "  ", "action": action})
        assert response.status_code == 400
        page = response.content.decode()
        assert "<title>Error: End contract" in page
        assert 'id="reason-error"' in page and "Enter why the contract is ending" in page
    _nothing_ended(contract)
    assert smtp_sink.messages == []


def test_the_confirmation_page_says_what_will_happen_and_when_and_changes_nothing(
    processor_client: Client, school_a: Organisation, admin_a: User, settings: SettingsWrapper
) -> None:
    settings.STEWARD_TERMINATION_WINDOW_DAYS = 30
    contract = Contract.objects.get(school=school_a)
    dpo = factories.user(Role.SCHOOL_DPO, school_a, email="dpo@alder.invalid")
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False):
        response = processor_client.post(
            f"/processor/contracts/{contract.pk}/end/", {"reason": "The school is joining a trust", "action": "check"}
        )
    page = response.content.decode()
    assert response.status_code == 200
    assert f"You are about to end contract {contract.reference}" in page
    assert "30 days, until 1 April 2026" in page and "can be deleted from 1 April 2026" in page
    assert admin_a.email in page and dpo.email in page
    assert 'name="reason" value="The school is joining a trust"' in page
    _nothing_ended(contract)


def test_confirming_ends_the_contract_emails_the_school_and_links_the_export(
    processor_client: Client,
    school_a: Organisation,
    admin_a: User,
    school_b: Organisation,
    smtp_sink: SmtpSink,
    settings: SettingsWrapper,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.STEWARD_BASE_URL = "https://steward.example.invalid"
    contract = Contract.objects.get(school=school_a)
    factories.user(Role.SCHOOL_DPO, school_a, email="dpo@alder.invalid")
    with tenant_scope([school_a.id]):
        tenancy_services.data_protection_contact_set(
            school=school_a, kind="dpo", name="Dee Poe", email="Dee.Poe@council.invalid"
        )
    factories.user(Role.SCHOOL_ADMIN, school_b, email="admin@birch.invalid")  # another school's: not told
    with django_capture_on_commit_callbacks(execute=True):
        response = processor_client.post(
            f"/processor/contracts/{contract.pk}/end/",
            {"reason": "The school is joining a trust", "action": "confirm"},
            follow=True,
        )
    page = response.content.decode()
    assert f"Contract {contract.reference} has ended" in page and "3 people were emailed" in page
    with processor_scope():
        record = ContractTermination.objects.get(school=school_a)
    assert record.reason == "The school is joining a trust"
    purge_day = f"{timezone.localtime(record.purge_not_before):%-d %B %Y}"
    told = sorted(address for m in smtp_sink.wait_for(3) for address in m.rcpt_tos)
    assert told == ["admin@alder.invalid", "dee.poe@council.invalid", "dpo@alder.invalid"]
    mail = smtp_sink.messages[0]
    assert purge_day in str(mail.message["Subject"])
    assert "https://steward.example.invalid/school/export/" in mail.body
    assert "Reason given: The school is joining a trust" in mail.body and f"From {purge_day}" in mail.body
    with tenant_scope([school_a.id]):
        assert AuditEvent.objects.filter(action="termination_start", school_id=school_a.id).exists()

    school = Client()
    sign_in(school, admin_a)
    choose(school, school_a)
    home = school.get("/", follow=True).content.decode()
    assert 'href="/school/export/"' in home and "Download your school's data" in home
    assert "The school is joining a trust" in home


def test_the_notices_describe_the_service_until_the_data_is_gone(
    school_a: Organisation, django_capture_on_commit_callbacks: Any
) -> None:
    contract = Contract.objects.get(school=school_a)
    public = Client()
    assert "Parent portal" in public.get(f"/privacy/{school_a.urn}/").content.decode()
    record = termination.termination_start(contract=contract, requested_by="Processor", reason="Closing")
    index = public.get(f"/privacy/{school_a.urn}/").content.decode()
    assert "No service is in use" not in index and "Parent portal" in index
    notice = public.get(f"/privacy/{school_a.urn}/parent_portal/").content.decode()
    assert "This service is ending" in notice
    assert f"is deleted from {timezone.localtime(record.purge_not_before):%-d %B %Y}" in notice
    with tenant_scope([school_a.id]):  # recorded with the termination, not only when someone reads it
        latest = NoticeVersion.objects.filter(service="parent_portal").order_by("-number").first()
    assert latest is not None and "## This service is ending" in latest.content

    termination.termination_purge(termination=record, confirmed_by="Processor", override_window=True)
    assert "No service is in use" in public.get(f"/privacy/{school_a.urn}/").content.decode()
    assert public.get(f"/privacy/{school_a.urn}/parent_portal/").status_code == 404


def test_purge_is_offered_only_when_the_window_has_passed_and_no_hold_stops_it(
    processor_client: Client, school_a: Organisation
) -> None:
    contract = Contract.objects.get(school=school_a)
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    record = termination.termination_start(contract=contract, requested_by="Processor", reason="Closing", now=start)
    with time_machine.travel(start + dt.timedelta(days=29), tick=False):
        assert f"Purge {school_a.name}" not in processor_client.get("/processor/terminations/").content.decode()
    with time_machine.travel(record.purge_not_before + dt.timedelta(minutes=1), tick=False):
        assert f"Purge {school_a.name}" in processor_client.get("/processor/terminations/").content.decode()
        hold_place(school=school_a, reason="Tribunal claim", placed_by="DPO")
        page = processor_client.get("/processor/terminations/").content.decode()
        assert f"Purge {school_a.name}" not in page and "a legal hold stops the purge: Tribunal claim" in page
