"""`estate_scope()`: every school at once, for processor-side work, and never inside a school's scope."""

from __future__ import annotations

import pytest

from steward.tenancy.models import DataProtectionContact, Organisation
from steward.tenancy.scope import EstateScopeRefused, current_school_ids, estate_scope, tenant_scope
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_schools() -> tuple[Organisation, Organisation]:
    a, b = factories.school("School A"), factories.school("School B")
    with tenant_scope([a.id, b.id]):
        for school in (a, b):
            DataProtectionContact.objects.create(
                school=school, kind="dpo", name=f"DPO of {school.name}", email=f"dpo{school.id}@example.invalid"
            )
    return a, b


def test_it_opens_every_school_and_no_other_organisation(two_schools: tuple[Organisation, Organisation]) -> None:
    processor = factories.processor()
    with estate_scope() as ids:
        assert set(ids) == {s.id for s in two_schools}
        assert processor.id not in ids
        assert current_school_ids() == ids
        names = sorted(DataProtectionContact.objects.values_list("name", flat=True))
    assert names == ["DPO of School A", "DPO of School B"]


def test_a_processor_page_or_api_request_in_an_empty_scope_may_open_it(
    two_schools: tuple[Organisation, Organisation],
) -> None:
    """The middleware gives the processor's pages and the API an empty scope; estate work may run there."""
    with tenant_scope([]), estate_scope() as ids:
        assert len(ids) == 2


def test_inside_a_schools_scope_it_is_refused_and_the_scope_stays_the_schools(
    two_schools: tuple[Organisation, Organisation],
) -> None:
    """A school user's request runs in its school's scope (a parent's in their schools'): asking for
    the estate there fails closed instead of showing them the other school."""
    a, _ = two_schools
    with tenant_scope([a.id]):
        with pytest.raises(EstateScopeRefused), estate_scope():
            pytest.fail("the estate scope opened inside a school's scope")
        assert current_school_ids() == (a.id,)
        assert list(DataProtectionContact.objects.values_list("name", flat=True)) == ["DPO of School A"]
