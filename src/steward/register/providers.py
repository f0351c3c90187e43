"""The privacy-provider protocol every app that holds personal data implements.

In the spirit of Moodle's privacy API: rights requests, retention and contract termination
never pick tables by hand; they ask each registered provider to describe, export, erase or
restrict what it holds about a subject.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

SubjectKind = Literal["learner", "contact", "staff", "school_user", "parent_user"]


@dataclass(frozen=True)
class Subject:
    """A data subject as one school knows them: a kind, a row id, and the school asking.

    The school is required: a Steward user or a parent portal account may belong to several
    schools, and a provider answers only for what the asking school holds about them (a user's
    membership of it, an account's links to it), never for the person's data elsewhere.
    """

    kind: SubjectKind
    id: int
    school_id: int


@dataclass(frozen=True)
class HeldData:
    """What a provider holds: model label, the categories of its fields, and the subject kinds."""

    model: str
    subject_kinds: tuple[SubjectKind, ...]
    categories: tuple[str, ...]


@dataclass
class ErasureReport:
    """What erasure removed and what it must keep, with the legal reason for keeping it."""

    app: str
    deleted: dict[str, int] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class PrivacyProvider(Protocol):
    app_label: str

    def describe(self) -> list[HeldData]:
        """Every model of the app holding personal data, with its categories."""

    def export_subject(self, subject: Subject) -> dict[str, list[dict[str, Any]]]:
        """Everything the app holds about the subject, keyed by model label."""

    def erase_subject(self, subject: Subject, *, dry_run: bool) -> ErasureReport:
        """Delete what may be deleted (or, with dry_run, say what would be)."""

    def restrict_subject(self, subject: Subject, *, restricted: bool) -> None:
        """Stop (or resume) all processing of the subject other than storage."""


_providers: dict[str, PrivacyProvider] = {}


def register_provider(provider: PrivacyProvider) -> None:
    if not isinstance(provider, PrivacyProvider):
        raise TypeError(f"{provider!r} does not implement the privacy-provider protocol")
    _providers[provider.app_label] = provider


def providers() -> list[PrivacyProvider]:
    return [_providers[label] for label in sorted(_providers)]


# Who belongs to a school ---------------------------------------------------------------------------
# A rights request names a subject by kind and row id; before anything is recorded, rights asks
# whether that subject belongs to the asking school. The app that holds a kind of subject answers
# for it (the parent portal for its accounts), so that rights, a process, need not import a face.

SubjectFinder = Callable[[int, int], bool]
"""(school id, subject row id) -> whether the subject belongs to that school."""

_finders: dict[str, SubjectFinder] = {}


def register_subject_finder(kind: SubjectKind, finder: SubjectFinder) -> None:
    _finders[kind] = finder


def subject_belongs(kind: str, *, school_id: int, subject_id: int) -> bool:
    """Whether the subject of this kind belongs to the school; False for a kind no app answers for."""
    finder = _finders.get(kind)
    return finder(school_id, subject_id) if finder is not None else False


# Finding a person by search -------------------------------------------------------------------------
# A rights request is logged against a person found by name, UPN, date of birth or email, never a
# typed row id. Rights searches the kinds it holds itself; an app that holds another kind (the
# parent portal, its accounts) registers a search for it here, so rights need not import a face.


@dataclass(frozen=True)
class FoundPerson:
    """One search result: the subject, the name to show, and what tells namesakes apart."""

    kind: SubjectKind
    id: int
    name: str
    detail: str


SubjectSearch = Callable[[int, "PersonQuery"], list[FoundPerson]]
"""(school id, parsed query) -> the matching subjects of one kind at that school (one query, set-based)."""


@dataclass(frozen=True)
class PersonQuery:
    """What was typed, read once: words of a name, or an email, a UPN or a date of birth."""

    words: tuple[str, ...] = ()
    email: str = ""
    upn: str = ""
    born: Any = None  # a datetime.date when the text was a date


_searches: dict[str, SubjectSearch] = {}


def register_subject_search(kind: SubjectKind, search: SubjectSearch) -> None:
    _searches[kind] = search


def registered_searches() -> dict[str, SubjectSearch]:
    return dict(_searches)
