"""The back office's log form, filled as a person would: the subject found by search and chosen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from steward.mis.models import Contact, Learner, Staff
from steward.portal.models import ParentAccount
from steward.tenancy.models import User
from steward.tenancy.scope import EstateScopeRefused, estate_scope


def search_text(subject_kind: str, subject_id: int) -> str:
    """What an office would type to find this subject: a name for MIS people, an email for accounts
    (read across the estate, or in the test's own scope when it has opened one)."""
    try:
        with estate_scope():
            return _text(subject_kind, subject_id)
    except EstateScopeRefused:
        return _text(subject_kind, subject_id)


def _text(subject_kind: str, subject_id: int) -> str:
    if subject_kind == "learner":
        learner = Learner.objects.get(pk=subject_id)
        return f"{learner.legal_forename} {learner.legal_surname}"
    if subject_kind in ("contact", "staff"):
        person = (Contact if subject_kind == "contact" else Staff).objects.get(pk=subject_id)
        return f"{person.forename} {person.surname}"
    if subject_kind == "school_user":
        return User.objects.get(pk=subject_id).email
    return ParentAccount.objects.get(pk=subject_id).email


def date_fields(day: dt.date, name: str = "received_on") -> dict[str, str]:
    return {f"{name}-day": str(day.day), f"{name}-month": str(day.month), f"{name}-year": str(day.year)}


def log_form(
    kind: str, subject_kind: str, subject_id: int, *, received_on: dt.date, note: str = "", **extra: str
) -> dict[str, Any]:
    return {
        "action": "log",
        "person": search_text(subject_kind, subject_id),
        "subject": f"{subject_kind}:{subject_id}",
        "kind": kind,
        "requested_by": "Alex Jones (parent)",
        "note": note,
        **date_fields(received_on),
        **extra,
    }
