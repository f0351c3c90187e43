"""The school version lock's preconditions (the change feed tests show what it is for)."""

from __future__ import annotations

import pytest
from django.db import connection

from steward.mis.versions import NotInTransaction, lock_school_versions


def test_the_version_lock_is_refused_outside_a_transaction() -> None:
    """Transaction-scoped: in autocommit it would be released as soon as it was taken."""
    with pytest.raises(NotInTransaction):
        lock_school_versions(school_id=1)


@pytest.mark.django_db
def test_the_change_version_sequence_hands_out_increasing_values_across_sessions() -> None:
    """The lock orders a school's versions by commit only if no session hands out values it cached."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_size FROM pg_sequences WHERE sequencename = 'mis_change_version'")
        assert cursor.fetchone() == (1,)
