"""The apps below the notices change a notice only by publishing an event (issue #11): the register's
`CatalogueSynced` and tenancy's `DataProtectionContactChanged` make the notices record a new version,
inside the publisher's transaction, without either app naming the notices."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection, transaction

from steward.core.events import publish, subscribe, unsubscribe
from steward.notices.models import NoticeVersion
from steward.notices.notices import notice_for
from steward.notices.selectors import notice_versions
from steward.notices.services import notice_publish, on_catalogue_synced, on_contact_changed
from steward.register.events import CatalogueSynced
from steward.register.models import ProcessingActivity
from steward.register.services import catalogue_sync
from steward.tenancy import services as tenancy_services
from steward.tenancy.events import DataProtectionContactChanged
from steward.tenancy.models import Organisation
from steward.tenancy.scope import tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db

EXTRA = "A purpose added only by this test"


@pytest.fixture
def school() -> Organisation:
    """A school whose hosted-MIS notice has its first version recorded."""
    school = factories.school("Event Primary", services_=("hosted_mis",))
    with tenant_scope([school.id]):
        tenancy_services.data_protection_contact_set(
            school=school, kind="dpo", name="Dee Protect", email="d@ep.invalid"
        )
    found = notice_for(school=school, service="hosted_mis")
    assert found is not None
    notice_publish(notice=found)
    return school


def _numbers(school: Organisation) -> list[int]:
    return [v.number for v in reversed(notice_versions(school_id=school.id, service="hosted_mis"))]


def _add_purpose() -> None:
    activity = ProcessingActivity.objects.get(service="hosted_mis")
    activity.purposes = [*activity.purposes, EXTRA]
    activity.save(update_fields=["purposes"])


@pytest.fixture
def catalogue_unheard() -> Iterator[None]:
    """The notices not listening to `CatalogueSynced`, restored afterwards."""
    unsubscribe(CatalogueSynced, on_catalogue_synced)
    yield
    subscribe(CatalogueSynced, on_catalogue_synced, when="in_transaction")


def test_the_catalogue_event_records_a_new_version_of_each_changed_notice(school: Organisation) -> None:
    before = _numbers(school)
    _add_purpose()
    publish(CatalogueSynced())
    versions = notice_versions(school_id=school.id, service="hosted_mis")
    assert [v.number for v in reversed(versions)] == [*before, before[-1] + 1]
    assert EXTRA in versions[0].content and EXTRA not in versions[1].content
    publish(CatalogueSynced())  # nothing changed since: no version
    assert len(notice_versions(school_id=school.id, service="hosted_mis")) == len(versions)


def test_without_the_subscription_a_catalogue_sync_records_nothing(
    school: Organisation, catalogue_unheard: None
) -> None:
    """The register's sync reaches the notices only through the event: unsubscribed, no version
    (`test_notices` shows the same sync, subscribed, recording one)."""
    _add_purpose()
    found = notice_for(school=school, service="hosted_mis")
    assert found is not None
    notice_publish(notice=found)  # the latest version states the extra purpose
    before = _numbers(school)
    catalogue_sync()  # puts the catalogue's purposes back: the notice no longer says it
    assert EXTRA not in ProcessingActivity.objects.get(service="hosted_mis").purposes
    assert _numbers(school) == before
    on_catalogue_synced(CatalogueSynced())
    assert _numbers(school) == [*before, before[-1] + 1]


class Failed(Exception):
    pass


def _change_contact_then_fail(school: Organisation, before: list[int]) -> None:
    with transaction.atomic(), tenant_scope([school.id]):
        tenancy_services.data_protection_contact_set(
            school=school, kind="dpo", name="Rolled Back", email="r@ep.invalid"
        )
        assert _numbers(school) == [*before, before[-1] + 1]  # recorded inside the change's transaction
        raise Failed


def test_a_contact_change_that_rolls_back_leaves_no_version(school: Organisation) -> None:
    before = _numbers(school)
    with pytest.raises(Failed):
        _change_contact_then_fail(school, before)
    assert _numbers(school) == before


def test_the_contact_event_names_the_school_whose_notices_change(school: Organisation) -> None:
    other = factories.school("Other Primary", services_=("hosted_mis",))
    with tenant_scope([school.id]):
        tenancy_services.data_protection_contact_set(school=school, kind="dpo", name="Nina New", email="n@ep.invalid")
    assert "Nina New" in notice_versions(school_id=school.id, service="hosted_mis")[0].content
    assert notice_versions(school_id=other.id, service="hosted_mis") == []
    on_contact_changed(DataProtectionContactChanged(school_id=other.id, kind="dpo"))
    assert [v.number for v in notice_versions(school_id=other.id, service="hosted_mis")] == [1]


def test_the_moved_model_keeps_its_table_and_row_level_security(school: Organisation) -> None:
    """`NoticeVersion` moved app without moving its table: same name, policy still forced."""
    assert NoticeVersion._meta.db_table == "register_noticeversion"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = 'register_noticeversion'"
        )
        assert cursor.fetchone() == (True, True)
        cursor.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'register_noticeversion'")
        assert cursor.fetchone() == (1,)
    other = factories.school("Unrelated Primary", services_=("hosted_mis",))
    with tenant_scope([other.id]):
        assert not NoticeVersion.objects.exists()  # the first school's versions are not visible here
    with tenant_scope([school.id]):
        assert NoticeVersion.objects.exists()
