"""Finding people in a school's MIS data by what staff type: a name, a UPN, a date of birth, an email.
One search for every place that finds a person: the back office's search box and the person a
rights request is about (`rights/people.py`, which adds Steward users and portal accounts).

Set-based: one statement per kind of person, `ILIKE` on the name and identifier columns (the school's
scope keeps every row its own; row-level security is the second wall). The same module names learners
for the audit log, whose events carry whatever id the action had in hand (a row id or an MIS source id).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q

from steward.mis.models import Contact, Learner, Staff
from steward.mis.names import display_name
from steward.register.providers import PersonQuery

# A person kind and the MIS record type that holds them (the record page's URL names it).
_RECORD_TYPES = {"learner": Learner.record_type, "contact": Contact.record_type, "staff": Staff.record_type}


@dataclass(frozen=True)
class PersonHit:
    """One person found: what kind, their row id, how they are named, and what tells namesakes apart."""

    kind: str  # "learner", "contact" or "staff"
    id: int
    source_id: str
    name: str
    upn: str = ""
    born: dt.date | None = None
    email: str = ""

    @property
    def record_type(self) -> str:
        """The MIS record type that holds them (the record page's URL names it)."""
        return _RECORD_TYPES[self.kind]

    @property
    def detail(self) -> str:
        """What a list of results shows beside the name: a learner's UPN, anyone else's email."""
        return f"UPN {self.upn}" if self.upn else self.email


EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # a whole address; part of one is searched as a word
UPN = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d %m %Y", "%d %B %Y", "%d %b %Y")


def parse_query(text: str) -> PersonQuery:
    """Read what was typed as an email, a UPN, a date of birth or else the words of a name."""
    text = " ".join(text.split())
    if EMAIL.match(text):
        return PersonQuery(email=text.lower())
    if UPN.match(text.upper()):
        return PersonQuery(upn=text.upper())
    for fmt in DATE_FORMATS:
        try:
            return PersonQuery(born=dt.datetime.strptime(text, fmt).date())  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    return PersonQuery(words=tuple(w for w in re.split(r"[\s,]+", text) if len(w) > 1))


def _words(fields: tuple[str, ...], words: Iterable[str]) -> Q:
    """Every word in one of `fields` (so "Sam Smith" finds forename Sam, surname Smith)."""
    query = Q()
    for word in words:
        query &= Q(*[Q(**{f"{field}__icontains": word}) for field in fields], _connector=Q.OR)
    return query


_LEARNER_NAMES = ("legal_forename", "legal_surname", "preferred_forename", "preferred_surname")


def people_matching(query: PersonQuery, *, school_id: int | None = None, limit: int = 20) -> list[PersonHit]:
    """Learners, contacts and staff matching a parsed query, in the scope (and at `school_id` when
    given, named as well as scoped): an exact email, UPN or date of birth, or every word of a name
    (a word may also be part of a UPN or an email). Three statements, at most `limit` of each kind."""
    learners, contacts, staff = Learner.objects.all(), Contact.objects.all(), Staff.objects.all()
    if school_id is not None:
        learners, contacts, staff = (rows.filter(school_id=school_id) for rows in (learners, contacts, staff))
    if query.upn:
        learners, contacts, staff = learners.filter(upn=query.upn), contacts.none(), staff.none()
    elif query.email:
        learners = learners.filter(email__iexact=query.email)
        contacts = contacts.filter(Q(email__iexact=query.email) | Q(email_alternative__iexact=query.email))
        staff = staff.filter(email__iexact=query.email)
    elif query.born:
        learners, contacts = learners.filter(date_of_birth=query.born), contacts.none()
        staff = staff.filter(date_of_birth=query.born)
    elif query.words:
        learners = learners.filter(_words((*_LEARNER_NAMES, "upn", "email"), query.words))
        contacts = contacts.filter(_words(("forename", "surname", "email"), query.words))
        staff = staff.filter(_words(("forename", "surname", "preferred_forename", "email"), query.words))
    else:
        return []
    hits = [
        PersonHit("learner", row.id, row.source_id, display_name(row), row.upn, row.date_of_birth, row.email)
        for row in learners.order_by("legal_surname", "legal_forename", "id")[:limit]
    ]
    hits += [
        PersonHit("contact", row.id, row.source_id, f"{row.forename} {row.surname}", email=row.email)
        for row in contacts.order_by("surname", "forename", "id")[:limit]
    ]
    hits += [
        PersonHit(
            "staff",
            row.id,
            row.source_id,
            f"{row.preferred_forename or row.forename} {row.surname}",
            born=row.date_of_birth,
            email=row.email,
        )
        for row in staff.order_by("surname", "forename", "id")[:limit]
    ]
    return hits


def search_people(*, text: str, limit: int = 20) -> list[PersonHit]:
    """The people of the school in scope matching what was typed (the back office's search box)."""
    return people_matching(parse_query(text), limit=limit)


def learner_ids_matching(*, text: str) -> list[str]:
    """Row ids and MIS source ids of the learners whose name or UPN matches `text`, as text: the ids
    an audit event may name a learner by (one statement)."""
    text = text.strip()
    if not text:
        return []
    rows = Learner.objects.filter(_words((*_LEARNER_NAMES, "upn"), text.split())).values_list("id", "source_id")
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
