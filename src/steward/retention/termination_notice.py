"""What ending a contract will do, said before it is done (the confirmation page) and after (the email
to the school's administrators and DPO): the export window, the purge date, who is told.

One plan, computed by the same rule the termination uses, so the confirmation page cannot promise a
date the purge will not keep.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from steward.retention.models import ContractTermination
from steward.tenancy.models import Contract
from steward.tenancy.scope import tenant_scope
from steward.tenancy.selectors import data_protection_emails

DEFAULT_WINDOW_DAYS = 30
# Where the school's staff download the export (the back office's `school-termination-export`).
EXPORT_PATH = "/school/export/"


def window_days() -> int:
    return int(getattr(settings, "STEWARD_TERMINATION_WINDOW_DAYS", DEFAULT_WINDOW_DAYS))


def export_url() -> str:
    return f"{settings.STEWARD_BASE_URL.rstrip('/')}{EXPORT_PATH}"


@dataclass(frozen=True)
class TerminationPlan:
    """What ending `contract` now would do."""

    contract: Contract
    purge_not_before: dt.datetime
    window_days: int
    notify: list[str]
    export_url: str


def termination_plan(*, contract: Contract, now: dt.datetime | None = None) -> TerminationPlan:
    """The export window, the first day of the purge and who will be emailed, if the contract ended now."""
    now = now or timezone.now()
    with tenant_scope([contract.school_id]):
        notify = data_protection_emails(school_id=contract.school_id)
    return TerminationPlan(
        contract=contract,
        purge_not_before=now + dt.timedelta(days=window_days()),
        window_days=window_days(),
        notify=notify,
        export_url=export_url(),
    )


def termination_email(termination: ContractTermination) -> tuple[str, str]:
    """Subject and body of the email to the school: what ended, why, the export link and the purge date.
    It names no pupil: the export itself is behind sign-in."""
    school = termination.school
    contract = termination.contract
    processor = contract.processor.name
    purge = timezone.localtime(termination.purge_not_before)
    day = f"{purge:%-d %B %Y}"
    subject = f"{school.name}: contract {contract.reference} has ended. Download your data before {day}"
    body = (
        "Dear colleague,\n\n"
        f"{processor} has ended {school.name}'s contract {contract.reference} "
        f"(services: {', '.join(contract.services)}).\n"
        f"Reason given: {termination.reason}\n\n"
        "What happens next:\n"
        f"- Your school's complete export (every record Steward holds for the school, as CTF, CSV and JSON) "
        f"is ready now. Sign in to Steward as the school's administrator or DPO to download it:\n  {export_url()}\n"
        f"- The export can be downloaded until {purge:%-d %B %Y at %H:%M}.\n"
        f"- From {day}, every record of the school is deleted from Steward, parent portal accounts linked "
        "only to the school included. The deletion is checked table by table and recorded in a certificate of "
        "deletion.\n"
        "- Until then the school's data, its parent portal and its privacy notices stay as they are.\n\n"
        f"If this is not what you expected, contact {processor} before {day}.\n"
    )
    return subject, body
