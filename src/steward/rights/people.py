"""Finding the person a rights request is about, by what a requester actually says.

A request used to be logged against a typed row id that no page shows, so a mistyped or invented
number was accepted. Now the office searches by name, UPN, date of birth or email across every
kind of subject the school holds (learners, contacts, staff, Steward users, and through
`register.providers` the parent portal's accounts), and picks one result. Each kind is one query
with the school named explicitly as well as by the tenant scope, so a search never reaches
another school, and nothing here runs per row.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from steward.mis.search import parse_query, people_matching
from steward.register.providers import FoundPerson, PersonQuery, registered_searches
from steward.tenancy.models import Membership

LIMIT = 20

_KIND_WORDS = {"learner": "learner", "contact": "parent or carer", "staff": "staff member"}


def _mis(school_id: int, query: PersonQuery) -> list[FoundPerson]:
    """The school's learners, contacts and staff matching the query, told apart for the office."""
    found = []
    for hit in people_matching(query, school_id=school_id, limit=LIMIT):
        if hit.kind == "learner":
            detail = f"learner, born {hit.born:%d %B %Y}" + (f", UPN {hit.upn}" if hit.upn else "")
        else:
            detail = _KIND_WORDS[hit.kind] + (f", {hit.email}" if hit.email else "")
        found.append(FoundPerson(hit.kind, hit.id, hit.name, detail))  # type: ignore[arg-type]
    return found


def _users(school_id: int, query: PersonQuery) -> list[FoundPerson]:
    if not (query.words or query.email):
        return []
    members = Membership.objects.filter(organisation_id=school_id)
    if query.email:
        members = members.filter(user__email__iexact=query.email)
    for word in query.words:
        members = members.filter(user__full_name__icontains=word)
    rows = (
        members.order_by("user__full_name", "user_id")
        .values_list("user_id", "user__full_name", "user__email")
        .distinct()  # one row a person, however many roles they hold here
    )
    return [FoundPerson("school_user", pk, name, f"Steward user, {email}") for pk, name, email in rows[:LIMIT]]


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
