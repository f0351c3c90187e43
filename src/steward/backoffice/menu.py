"""The back office's menu, as data: which pages each role is shown and which page is current.

One list instead of a hand-written link per page in `base.html`: an entry names its page, the pages
that belong under it (so a request's page keeps its menu entry current), and the roles that may open
it, so a role is never shown a link it cannot use (`tests/security/test_plain_words.py` follows
every link) and the current page is marked once, with `aria-current`, by name rather than by
matching part of a URL name.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from django.urls import reverse

from steward.tenancy.models import PROCESSOR_ROLES, SCHOOL_ROLES, Role


@dataclass(frozen=True)
class Entry:
    label: str
    page: str  # the URL name under `backoffice:`
    roles: frozenset[str]
    also: tuple[str, ...] = ()  # pages under this entry

    def current(self, here: str) -> bool:
        return here == self.page or here in self.also


_SCHOOL = frozenset(SCHOOL_ROLES)
_PROCESSOR = frozenset(PROCESSOR_ROLES)
_PROCESSOR_ADMIN = frozenset({Role.PROCESSOR_ADMIN})

SCHOOL_MENU = (
    Entry("Home", "school-home", _SCHOOL),
    Entry("Register", "school-register", _SCHOOL),
    Entry("People", "school-people", _SCHOOL),
    Entry("MIS batches", "school-batches", _SCHOOL, ("school-batch",)),
    Entry("Data sharing", "school-flows", _SCHOOL, ("school-flow", "school-flow-action", "school-disclosures")),
    Entry(
        "Accounts",
        "school-provisioning",
        frozenset({Role.SCHOOL_ADMIN, Role.SCHOOL_DPO}),
        (
            "school-provisioning-new",
            "school-provisioning-target",
            "school-provisioning-edit",
            "school-provisioning-apply",
            "school-provisioning-letters",
        ),
    ),
    Entry("Rights requests", "school-rights", _SCHOOL, ("school-rights-request", "school-rights-history")),
    Entry(
        "Consents",
        "school-consents",
        _SCHOOL,
        ("school-consent-withdraw", "school-agreement-sign", "school-agreement-revoke"),
    ),
    Entry(
        "Parent portal",
        "school-portal",
        frozenset({Role.SCHOOL_ADMIN}),
        ("school-parent-authenticators", "school-parent-authenticator-reset"),
    ),
    Entry("Audit log", "school-audit", _SCHOOL),
    Entry("Alerts", "school-alerts", _SCHOOL, ("school-alert", "school-alert-breach")),
    Entry("Service desk", "school-service-desk", _SCHOOL, ("school-service-desk-new", "school-service-desk-ticket")),
    Entry("Support access", "school-support-access", _SCHOOL, ("school-support-access-grant",)),
    Entry("Staff sessions", "school-staff-sessions", frozenset({Role.SCHOOL_ADMIN}), ("school-staff-session-end",)),
)

PROCESSOR_MENU = (
    Entry("Schools with problems", "processor-home", _PROCESSOR),
    Entry("Schools", "processor-schools", _PROCESSOR),
    Entry(
        "Service desk",
        "processor-service-desk",
        _PROCESSOR,
        ("processor-service-desk-ticket", "processor-service-desk-close", "processor-support-access-new"),
    ),
    Entry("Contracts", "processor-contracts", _PROCESSOR, ("termination-start",)),
    Entry("Processing register", "processor-register", _PROCESSOR),
    Entry("Record a flow request", "processor-flow-request", _PROCESSOR),
    Entry("Audit log", "processor-audit", _PROCESSOR_ADMIN),
    Entry("All alerts", "processor-alerts", _PROCESSOR_ADMIN, ("processor-alert",)),
    Entry("Backups", "processor-backups", _PROCESSOR_ADMIN),
    Entry("Terminations", "processor-terminations", _PROCESSOR_ADMIN, ("termination-purge", "termination-certificate")),
    Entry("Staff accounts", "processor-staff", _PROCESSOR_ADMIN, ("processor-authenticator-reset",)),
    Entry("All staff sessions", "processor-staff-sessions", _PROCESSOR_ADMIN, ("processor-staff-session-end",)),
)


def menu_links(
    here: str, *, school_roles: Collection[str], processor_roles: Collection[str]
) -> list[dict[str, object]]:
    """The menu a person sees: the school's entries for their roles there (when a school is chosen),
    then the processor's for their processor roles; each with its address and whether it is current."""
    shown = [e for e in SCHOOL_MENU if e.roles & set(school_roles)]
    shown += [e for e in PROCESSOR_MENU if e.roles & set(processor_roles)]
    return [{"label": e.label, "href": reverse(f"backoffice:{e.page}"), "current": e.current(here)} for e in shown]
