"""Releasing a OneRoster page: the page and its disclosures are one transaction.

A page may hold records of several schools and MIS record types (a `users` page holds learners
and staff): each (school, record type) in it is logged as one Disclosure, naming the flows that
release it, the MIS ids of the records and the subjects. Records that are not personal data from
the MIS feed (orgs, academic sessions) are not disclosures and are not logged.
"""

from __future__ import annotations

from collections.abc import Sequence

from steward.rostering.selectors import Item, SchoolAccess
from steward.sharing.models import Disclosure
from steward.sharing.services import record_disclosure


def disclose_page(*, recipient_id: int, access: Sequence[SchoolAccess], items: Sequence[Item]) -> int:
    """Log the page's disclosures (call inside the tenant scope the page was read in); how many."""
    by_school = {a.school.id: a for a in access}
    grouped: dict[tuple[int, str], list[Item]] = {}
    for item in items:
        if item.school_id is not None and item.record_type is not None:
            grouped.setdefault((item.school_id, item.record_type), []).append(item)
    logged = 0
    for (school_id, record_type), part in sorted(grouped.items()):
        release = by_school[school_id].releases[record_type]
        disclosure = record_disclosure(
            school_id=school_id,
            recipient_id=recipient_id,
            release=release,
            since=0,
            next_since=0,
            record_ids=[i.source_id for i in part],
            subject_ids=sorted({s for i in part for s in i.subjects}),
            channel=Disclosure.Channel.API,
        )
        logged += disclosure is not None
    return logged
