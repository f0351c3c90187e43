"""Contract termination pages: only processor admins end contracts and purge; the school downloads its export."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from steward.retention.models import ContractTermination
from steward.tenancy.models import Contract, Organisation, Role, User
from steward.tenancy.scope import processor_scope
from tests import factories
from tests.backoffice.conftest import choose, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _exports(settings: SettingsWrapper, tmp_path: Path) -> None:
    settings.STEWARD_TERMINATION_DIR = tmp_path


def test_a_school_admin_cannot_end_a_contract_and_nothing_changes(
    client: Client, admin_a: User, school_a: Organisation
) -> None:
    sign_in(client, admin_a)
    contract = Contract.objects.get(school=school_a)
    assert client.post(f"/processor/contracts/{contract.pk}/end/").status_code == 403
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
    assert client.post(f"/processor/contracts/{contract.pk}/end/").status_code == 302
    with processor_scope():
        termination = ContractTermination.objects.get(school=school_a)
    page = client.get("/processor/terminations/").content.decode()
    assert f"Purge {school_a.name}" in page
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
