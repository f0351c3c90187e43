"""Finding the person a rights request is about, by what a requester actually says.

A request used to be logged against a typed row id that no page shows, so a mistyped or invented
number was accepted. Now the office searches by name, UPN, date of birth or email across every
kind of subject the school holds (learners, contacts, staff, Steward users, and through
`register.providers` the parent portal's accounts), and picks one result. Each kind is one query
with the school named explicitly as well as by the tenant scope, so a search never reaches
another school, and nothing here runs per row.
"""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from steward.mis.models import Contact, Learner, Staff
from steward.mis.names import display_name
from steward.register.providers import FoundPerson, PersonQuery, registered_searches
from steward.tenancy.models import Membership

LIMIT = 20
UPN = re.compile(r"^[A-Z]\d{11}[0-9A-Z]$")
DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d %m %Y", "%d %B %Y", "%d %b %Y")


def parse_query(text: str) -> PersonQuery:
    """Read what was typed as an email, a UPN, a date of birth or else the words of a name."""
    text = " ".join(text.split())
    if "@" in text:
        return PersonQuery(email=text.lower())
    if UPN.match(text.upper()):
        return PersonQuery(upn=text.upper())
    for fmt in DATE_FORMATS:
        try:
            return PersonQuery(born=dt.datetime.strptime(text, fmt).date())  # noqa: DTZ007 - a date, no time
        except ValueError:
            continue
    return PersonQuery(words=tuple(w for w in re.split(r"[\s,]+", text) if len(w) > 1))


def _name_filter(query: PersonQuery, fields: tuple[str, ...]) -> Q:
    """Every word must appear in one of the name fields: "sam smith" finds Samuel Smith."""
    condition = Q()
    for word in query.words:
        condition &= Q(*[Q(**{f"{f}__icontains": word}) for f in fields], _connector=Q.OR)
    return condition


def _mis(school_id: int, query: PersonQuery) -> list[FoundPerson]:
    found: list[FoundPerson] = []
    learners: QuerySet[Learner] = Learner.objects.filter(school_id=school_id)
    contacts: QuerySet[Contact] = Contact.objects.filter(school_id=school_id)
    staff: QuerySet[Staff] = Staff.objects.filter(school_id=school_id)
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
        learners = learners.filter(
            _name_filter(query, ("legal_forename", "legal_surname", "preferred_forename", "preferred_surname"))
        )
        contacts = contacts.filter(_name_filter(query, ("forename", "surname")))
        staff = staff.filter(_name_filter(query, ("forename", "surname", "preferred_forename")))
    else:
        return []
    for learner in learners.order_by("legal_surname", "legal_forename", "pk")[:LIMIT]:
        upn = f", UPN {learner.upn}" if learner.upn else ""
        found.append(
            FoundPerson(
                "learner", learner.pk, display_name(learner), f"learner, born {learner.date_of_birth:%d %B %Y}{upn}"
            )
        )
    for contact in contacts.order_by("surname", "forename", "pk")[:LIMIT]:
        email = f", {contact.email}" if contact.email else ""
        found.append(
            FoundPerson("contact", contact.pk, f"{contact.forename} {contact.surname}", f"parent or carer{email}")
        )
    for member in staff.order_by("surname", "forename", "pk")[:LIMIT]:
        email = f", {member.email}" if member.email else ""
        found.append(FoundPerson("staff", member.pk, f"{member.forename} {member.surname}", f"staff member{email}"))
    return found


def _users(school_id: int, query: PersonQuery) -> list[FoundPerson]:
    if not (query.words or query.email):
        return []
    members = Membership.objects.filter(organisation_id=school_id)
    if query.email:
        members = members.filter(user__email__iexact=query.email)
    for word in query.words:
        members = members.filter(user__full_name__icontains=word)
    seen = dict(members.order_by("user__full_name", "user_id").values_list("user_id", "user__full_name")[:LIMIT])
    emails = dict(members.values_list("user_id", "user__email"))
    return [FoundPerson("school_user", pk, name, f"Steward user, {emails[pk]}") for pk, name in seen.items()]


def find_people(*, school_id: int, text: str) -> list[FoundPerson]:
    """Everyone at the school matching the text, of every kind (at most LIMIT of each kind)."""
    query = parse_query(text)
    found = _mis(school_id, query) + _users(school_id, query)
    for search in registered_searches().values():
        found += search(school_id, query)
    return found


def token(person: FoundPerson) -> str:
    """The value a search result posts: kind and row id, checked again when the request is logged."""
    return f"{person.kind}:{person.id}"


def resolve(*, school_id: int, text: str, chosen: str) -> FoundPerson:
    """The one person a request is about: the result chosen, or the only match of the search.

    Refused at the search field when nothing matches (a request about nobody) or when several do
    and none was chosen (a request about the wrong person), so nothing is recorded either way.
    """
    if not text.strip() and not chosen:
        raise ValidationError({"person": "Enter a name, UPN, date of birth or email address to find the person"})
    found = find_people(school_id=school_id, text=text) if text.strip() else []
    if chosen:
        match = next((p for p in found if token(p) == chosen), None)
        if match is None:
            raise ValidationError(
                {"person": "The person chosen does not match the search: search again and choose from the results"}
            )
        return match
    if not found:
        raise ValidationError({"person": f"No one at this school matches “{text.strip()}”: check the spelling"})
    if len(found) > 1:
        raise ValidationError(
            {"person": f"{len(found)} people match “{text.strip()}”: choose the person the request is about"}
        )
    return found[0]
