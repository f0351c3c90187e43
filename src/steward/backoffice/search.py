"""The back office's one search box: people, rights requests, MIS batches and data sharing flows.

Each app answers for its own records with a selector (one statement per kind, set-based `ILIKE` on
the columns a person types: names, UPN, email, a request's number, a file name, a recipient), run in
the request's scope, so a school's user finds only their school's records and row-level security
stands behind it. The processor's staff have no school in scope and find schools, not pupils.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from steward.ingest import selectors as ingest_selectors
from steward.mis.search import PersonHit, search_people
from steward.rights import selectors as rights_selectors
from steward.sharing import selectors as sharing_selectors
from steward.tenancy import selectors as tenancy_selectors

PEOPLE_KINDS = {"learner": "Pupils", "contact": "Parents and carers", "staff": "Staff"}
SHOWN = 20  # per kind: a search is for finding one thing, not for listing


@dataclass
class Results:
    """What a search found, by kind; `people` by person kind."""

    text: str
    people: dict[str, list[PersonHit]] = field(default_factory=dict)
    requests: list[Any] = field(default_factory=list)
    batches: list[Any] = field(default_factory=list)
    flows: list[Any] = field(default_factory=list)
    schools: list[Any] = field(default_factory=list)

    @property
    def count(self) -> int:
        people = sum(len(hits) for hits in self.people.values())
        return people + len(self.requests) + len(self.batches) + len(self.flows) + len(self.schools)


def search_school(text: str, *, only: frozenset[str] | None = None) -> Results:
    """Everything of the school in scope that matches (six statements whatever is found).

    `only` is a support grant's scope: then people are found only of the record types it names,
    and requests, batches and flows only when it names their area; the rest is not even queried."""

    def wanted(area: str) -> bool:
        return only is None or area in only

    results = Results(text)
    for hit in search_people(text=text, limit=SHOWN):
        if wanted(hit.record_type):
            results.people.setdefault(hit.kind, []).append(hit)
    if wanted("rights"):
        results.requests = list(rights_selectors.search_requests(text=text, limit=SHOWN))
    if wanted("batches"):
        results.batches = ingest_selectors.search_batches(text=text, limit=SHOWN)
    if wanted("flows"):
        results.flows = sharing_selectors.search_flows(text=text, limit=SHOWN)
    return results


def search_processor(text: str) -> Results:
    """The processor's search: schools (its staff see no school's records without a ticket)."""
    results = Results(text)
    results.schools = tenancy_selectors.search_schools(text=text, limit=SHOWN)
    return results
