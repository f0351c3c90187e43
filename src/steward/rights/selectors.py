"""Reading rights requests: what is due, what is overdue."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from steward.core.listing import PER_PAGE, page_of
from steward.mis.privacy import SUBJECT_MODELS
from steward.register.providers import subject_belongs
from steward.rights import bundle, readable
from steward.rights.models import RightsRequest, RightsRequestEvent, WithheldItem
from steward.rights.readable import Table
from steward.tenancy.models import DataProtectionContact, Membership, Organisation, Role

OPEN = (RightsRequest.Status.RECEIVED, RightsRequest.Status.IN_PROGRESS)


def open_requests() -> QuerySet[RightsRequest]:
    """The current school's open requests, soonest due first (an extension moves the date)."""
    requests: QuerySet[RightsRequest] = RightsRequest.objects.filter(status__in=OPEN)
    return requests.order_by(Coalesce(F("extended_deadline"), F("deadline")), "id")


def overdue_requests(*, today: dt.date) -> QuerySet[RightsRequest]:
    return open_requests().filter(
        Q(extended_deadline__lt=today) | Q(extended_deadline__isnull=True, deadline__lt=today)
    )


def due_soon_or_overdue(*, today: dt.date, within_days: int = 7) -> QuerySet[RightsRequest]:
    """Open requests due within `within_days` (or already overdue) that were not reminded about
    today, for the schools in scope."""
    reminded_today = RightsRequestEvent.objects.filter(request=OuterRef("pk"), action="reminder_sent", at__date=today)
    due = Coalesce(F("extended_deadline"), F("deadline"))
    requests: QuerySet[RightsRequest] = (
        RightsRequest.objects.filter(status__in=OPEN)
        .alias(due_on=due)
        .filter(due_on__lte=today + dt.timedelta(days=within_days))
        .exclude(Exists(reminded_today))
        .order_by("school_id", due, "id")
    )
    return requests


def subject_in_school(*, school_id: int, subject_kind: str, subject_id: int) -> bool:
    """Whether the subject belongs to this school, so that the school may act on them at all.

    A learner, contact or staff member is a row of the school's MIS data; a Steward user belongs
    through a membership of the school; a parent portal account through a link to one of the
    school's contacts, which the portal answers for (`register.providers.subject_belongs`). Each is
    looked up with the school named explicitly, not only through the tenant scope: a request about
    anyone else is refused before anything is recorded.
    """
    if subject_kind in SUBJECT_MODELS:
        return SUBJECT_MODELS[subject_kind].objects.filter(school_id=school_id, pk=subject_id).exists()
    if subject_kind == RightsRequest.SubjectKind.SCHOOL_USER:
        return Membership.objects.filter(organisation_id=school_id, user_id=subject_id).exists()
    return subject_belongs(subject_kind, school_id=school_id, subject_id=subject_id)


def _member_emails(school_id: int, roles: tuple[str, ...]) -> list[str]:
    return list(
        Membership.objects.filter(
            organisation_id=school_id, role__in=roles, user__is_active=True, restricted_at__isnull=True
        )
        .order_by("user__email")
        .values_list("user__email", flat=True)
        .distinct()
    )


def mis_owner_emails(school_id: int) -> list[str]:
    """Who keeps the school's MIS: its administrators; else its data protection contacts; else the office."""
    admins = _member_emails(school_id, (Role.SCHOOL_ADMIN,))
    if admins:
        return admins
    contacts = list(
        DataProtectionContact.objects.filter(school_id=school_id).order_by("kind").values_list("email", flat=True)
    )
    if contacts:
        return contacts
    office = Organisation.objects.filter(pk=school_id).values_list("email", flat=True).first()
    return [office] if office else []


def reminder_emails(school_id: int) -> list[str]:
    """The school's data protection contacts, DPOs and administrators, each once."""
    contacts = DataProtectionContact.objects.filter(school_id=school_id).values_list("email", flat=True)
    members = _member_emails(school_id, (Role.SCHOOL_DPO, Role.SCHOOL_ADMIN))
    return sorted({e.lower() for e in [*contacts, *members] if e})


def search_requests(*, text: str, limit: int = 20) -> QuerySet[RightsRequest]:
    """The scope's rights requests, completed ones too, naming `text` as subject or requester, or
    numbered `text` (one statement)."""
    text = text.strip()
    if not text:
        return RightsRequest.objects.none()
    query = Q(subject_label__icontains=text) | Q(requested_by__icontains=text)
    if text.removeprefix("#").isdigit() and len(text) < 15:
        query |= Q(pk=int(text.removeprefix("#")))
    return RightsRequest.objects.filter(query).order_by("-received_on", "-id")[:limit]


def requests_by_deadline(*, limit: int = 10) -> list[RightsRequest]:
    """The scope's open requests, the one due first on top (its extended deadline if it has one)."""
    return list(open_requests()[:limit])


@dataclass(frozen=True)
class RequestFilter:
    """What the list of every request (history included) is narrowed to; every part optional."""

    status: str = ""
    kind: str = ""
    text: str = ""

    def apply(self, requests: QuerySet[RightsRequest]) -> QuerySet[RightsRequest]:
        if self.status:
            requests = requests.filter(status=self.status)
        if self.kind:
            requests = requests.filter(kind=self.kind)
        if self.text:
            requests = requests.filter(Q(subject_label__icontains=self.text) | Q(requested_by__icontains=self.text))
        return requests


def requests_filtered(*, where: RequestFilter) -> QuerySet[RightsRequest]:
    """Every request of the scope, completed and refused ones too, newest received first."""
    return where.apply(RightsRequest.objects.all()).order_by("-received_on", "-id")


def requests_page(*, where: RequestFilter, page: int | str | None = 1, per_page: int = PER_PAGE) -> Page[RightsRequest]:
    """One page of `requests_filtered`, with the count of all that match (two statements)."""
    return page_of(requests_filtered(where=where), page, per_page=per_page)


@dataclass(frozen=True)
class Review:
    """The access bundle as the DPO previews it before sending: what will go, what is withheld and why."""

    document: dict[str, Any]
    tables: list[Table]
    withheld: list[tuple[str, WithheldItem]]  # (heading, item)
    holds_data: bool


def access_review(*, request: RightsRequest) -> Review:
    """Gather the bundle as it would be sent now (withheld parts left out), for the review page."""
    items = list(WithheldItem.objects.filter(request=request).order_by("at", "id"))
    document = bundle.gather(request, frozenset(i.section for i in items))
    return Review(
        document=document,
        tables=bundle.tables(document),
        withheld=[(readable.heading(i.section), i) for i in items],
        holds_data=bundle.holds_data(document),
    )
