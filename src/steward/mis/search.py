"""Finding people in a school's MIS data by what staff type: a name, a UPN, a date of birth, an email.

Set-based: one statement per kind of person, `ILIKE` on the name and identifier columns (the school's
scope keeps every row its own; row-level security is the second wall). The same module names learners
for the audit log, whose events carry whatever id the action had in hand (a row id or an MIS source id).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from steward.mis.models import Contact, Learner, Staff
from steward.mis.names import display_name


@dataclass(frozen=True)
class PersonHit:
    """One person found: what kind, their row id, how they are named, and what identifies them."""

    kind: str  # "learner", "contact" or "staff"
    id: int
    source_id: str
    name: str
    detail: str


def _date(text: str) -> dt.date | None:
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(text, pattern).date()  # noqa: DTZ007 - a date, no time of day
        except ValueError:
            continue
    return None


def _words(fields: tuple[str, ...], text: str) -> Q:
    """Every word of `text` in one of `fields` (so "Sam Smith" finds forename Sam, surname Smith)."""
    query = Q()
    for word in text.split():
        any_field = Q()
        for field in fields:
            any_field |= Q(**{f"{field}__icontains": word})
        query &= any_field
    return query


def search_people(*, text: str, limit: int = 20) -> list[PersonHit]:
    """Learners, contacts and staff of the school in scope that match `text` (three statements)."""
    text = text.strip()
    if not text:
        return []
    born = _date(text)
    learner_q = _words(
        ("legal_forename", "legal_surname", "preferred_forename", "preferred_surname", "upn", "email"), text
    )
    if born is not None:
        learner_q = Q(date_of_birth=born)
    hits = [
        PersonHit("learner", row.id, row.source_id, display_name(row), f"UPN {row.upn}" if row.upn else "")
        for row in Learner.objects.filter(learner_q).order_by("legal_surname", "legal_forename", "id")[:limit]
    ]
    contact_q = _words(("forename", "surname", "email"), text)
    hits += [
        PersonHit("contact", row.id, row.source_id, f"{row.forename} {row.surname}", row.email)
        for row in Contact.objects.filter(contact_q).order_by("surname", "forename", "id")[:limit]
    ]
    staff_q = _words(("forename", "surname", "preferred_forename", "email"), text)
    if born is not None:
        staff_q = Q(date_of_birth=born)
    hits += [
        PersonHit("staff", row.id, row.source_id, f"{row.preferred_forename or row.forename} {row.surname}", row.email)
        for row in Staff.objects.filter(staff_q).order_by("surname", "forename", "id")[:limit]
    ]
    return hits


def learner_ids_matching(*, text: str) -> list[str]:
    """Row ids and MIS source ids of the learners whose name or UPN matches `text`, as text: the ids
    an audit event may name a learner by (one statement)."""
    text = text.strip()
    if not text:
        return []
    rows = Learner.objects.filter(
        _words(("legal_forename", "legal_surname", "preferred_forename", "preferred_surname", "upn"), text)
    ).values_list("id", "source_id")
    return [value for row in rows for value in (str(row[0]), row[1])]


def learner_names(ids: Iterable[str]) -> dict[str, str]:
    """Each learner id (row id or MIS source id, as text) to the learner's display name, for the
    learners the scope can see (one statement; none, in the processor's empty scope)."""
    ids = list(set(ids))
    if not ids:
        return {}
    numbers = [int(i) for i in ids if i.isdigit() and len(i) < 18]
    rows = Learner.objects.filter(Q(source_id__in=ids) | Q(id__in=numbers)).only(
        "id", "source_id", "legal_forename", "legal_surname", "preferred_forename", "preferred_surname"
    )
    names: dict[str, str] = {}
    for row in rows:
        names[row.source_id] = display_name(row)
        names.setdefault(str(row.id), display_name(row))
    return names
