"""The privacy notice of one school's service, assembled from the register and live configuration.

Every statement comes from a mechanism that enforces it: categories and purposes from the
activity (ingest refuses data outside it), recipients only where an approved flow releases data
(the API and exports release nothing else), transfers only where the register records a
safeguard, retention from the rules (a rule the retention code cannot apply yet is printed with
a flag saying so), cookies from the lists the code sets them from. Nothing here is free text about
the school's practice. Each section carries `sources[section]`, the register entry or mechanism it
was read from, printed under the section so that a reader (or a DPO) can check it.

`notice_text` renders the same content as plain structured text: what `NoticeVersion` stores,
hashes and diffs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from steward.core import replicas
from steward.portal.cookies import portal_cookies
from steward.register.models import (
    DataCategory,
    LawfulBasis,
    PlaceOfProcessing,
    ProcessingActivity,
    Recipient,
    RetentionRule,
    SpecialCondition,
)
from steward.register.selectors import held_categories
from steward.retention.selectors import open_termination_for_school, rule_is_automated
from steward.sharing.selectors import releasing_flows
from steward.tenancy.models import DataProtectionContact, Organisation
from steward.tenancy.scope import tenant_scope
from steward.tenancy.selectors import contracted_services, data_protection_contacts

RIGHTS = (
    ("access", "to ask for a copy of the information held about you (Article 15)"),
    ("rectification", "to have inaccurate information corrected (Article 16)"),
    ("erasure", "to have information erased where the law allows (Article 17)"),
    ("restriction", "to have its use restricted while a question is settled (Article 18)"),
    ("objection", "to object to its use for a public task (Article 21)"),
    ("portability", "to receive information you provided in a portable form where it applies (Article 20)"),
    ("complaint", "to complain to the Information Commissioner's Office (ico.org.uk, 0303 123 1113)"),
)


@dataclass(frozen=True)
class NoticeRecipient:
    recipient: Recipient
    purposes: list[str]
    categories: list[str]


@dataclass(frozen=True)
class NoticeRetention:
    rule: RetentionRule
    automated: bool

    @property
    def text(self) -> str:
        return retention_line(self)


@dataclass(frozen=True)
class NoticeCookie:
    name: str
    purpose: str
    expires: str
    necessary: bool


@dataclass(frozen=True)
class Notice:
    school: Organisation
    processor: Organisation | None
    activity: ProcessingActivity
    contacts: list[DataProtectionContact]
    lawful_bases: list[str]
    special_conditions: list[str]
    categories: list[DataCategory]
    recipients: list[NoticeRecipient]
    transfers: list[Recipient]
    places: list[PlaceOfProcessing]
    retention: list[NoticeRetention]
    cookies: list[NoticeCookie]
    sources: dict[str, str] = field(default_factory=dict)
    rights: tuple[tuple[str, str], ...] = RIGHTS
    ending: str = ""  # the contract has ended and the data is waiting for its purge: when it goes

    @property
    def for_parents(self) -> bool:
        return self.activity.service == ProcessingActivity.Service.PARENT_PORTAL

    @property
    def cookie_intro(self) -> str:
        return cookie_intro(self)


def services_held(school: Organisation) -> tuple[set[str], str]:
    """The services whose data Steward holds for the school, and, when its contract has ended but the
    data waits for the purge, the sentence that says so. A notice describes the service until the data
    is actually gone: the school's data, its portal and its parents' accounts are live until the purge."""
    services = set(contracted_services(school_id=school.id))
    with tenant_scope([school.id]):
        ending = open_termination_for_school(school_id=school.id)
    if ending is None:
        return services, ""
    ended = timezone.localtime(ending.requested_at)
    purge = timezone.localtime(ending.purge_not_before)
    sentence = (
        f"The school's contract for this service ended on {ended:%-d %B %Y}. The information is kept, "
        f"unchanged and used as described here, until the school has its copy, and is deleted from "
        f"{purge:%-d %B %Y}."
    )
    return services | set(ending.contract.services), sentence


def services_in_force(school: Organisation) -> list[ProcessingActivity]:
    return list(ProcessingActivity.objects.filter(service__in=services_held(school)[0]).order_by("name"))


def notice_for(*, school: Organisation, service: str) -> Notice | None:
    """The notice, or None when Steward holds no data of the school for the service."""
    held_services, ending = services_held(school)
    if service not in held_services:
        return None
    activity = ProcessingActivity.objects.prefetch_related("places").get(service=service)
    contract = school.contracts.select_related("processor").filter(services__contains=[service]).first()
    with tenant_scope([school.id]):
        contacts = list(data_protection_contacts())
        flows = releasing_flows(school_id=school.id, service=service)
    names = dict(DataCategory.objects.values_list("code", "name"))
    by_recipient: dict[int, NoticeRecipient] = {}
    for flow in flows:
        entry = by_recipient.setdefault(flow.recipient_id, NoticeRecipient(flow.recipient, [], []))
        entry.purposes.append(flow.purpose)
        entry.categories.extend(names.get(c, c) for c in flow.categories if names.get(c, c) not in entry.categories)
    recipients = sorted(by_recipient.values(), key=lambda r: r.recipient.name)
    held = held_categories()
    retention = [
        NoticeRetention(rule, rule_is_automated(rule))
        for rule in activity.retention_rules.select_related("activity", "category")
    ]
    cookies, cookie_source = _cookies(service)
    a = f"register activity '{service}'"
    return Notice(
        school=school,
        processor=contract.processor if contract else None,
        activity=activity,
        contacts=contacts,
        lawful_bases=[f"{LawfulBasis(b).label}" for b in activity.lawful_bases],
        special_conditions=[f"{SpecialCondition(c).label}" for c in activity.special_conditions],
        categories=[c for c in activity.categories.order_by("name") if c.code in held],
        recipients=recipients,
        transfers=[r.recipient for r in recipients if r.recipient.outside_uk_eea],
        places=list(activity.places.all()),
        retention=retention,
        cookies=cookies,
        ending=ending,
        sources={
            "controller": (
                f"tenancy: school URN {school.urn}"
                + (f", contract {contract.reference} with {contract.processor.name}" if contract else "")
                + "; the school's data protection contacts"
            ),
            "categories": f"{a} categories that a classified model field holds (ingest refuses any other)",
            "purposes": f"{a} purposes",
            "lawful_basis": f"{a} lawful bases and Art. 9 conditions",
            "recipients": "this school's approved data flows that release data now: "
            + (", ".join(f"flow {f.id} to '{f.recipient.code}'" for f in flows) or "none"),
            "transfers": "register transfer safeguards of the recipients above",
            "places": f"{a} places of processing",
            "retention": f"{a} retention rules; applied by steward.retention: "
            + (", ".join(r.rule.get_trigger_display() for r in retention if r.automated) or "none"),
            "security": f"{a} security measures",
            "rights": "UK GDPR Articles 15 to 21 and 77",
            "cookies": cookie_source,
            "ending": "retention: the school's contract termination waiting for its purge",
        },
    )


def _cookies(service: str) -> tuple[list[NoticeCookie], str]:
    """The portal's cookies from the list the portal sets them from; elsewhere only staff sign in."""
    if service == ProcessingActivity.Service.PARENT_PORTAL:
        return (
            [NoticeCookie(c.name, c.purpose, c.expires, c.necessary) for c in portal_cookies()],
            "steward.portal.cookies.portal_cookies(), as on the portal's cookie policy page",
        )
    hours = settings.SESSION_COOKIE_AGE // 3600
    return (
        [
            NoticeCookie(
                settings.SESSION_COOKIE_NAME,
                "Keeps a member of school or ICT staff signed in to Steward.",
                f"{hours} hours",
                True,
            ),
            NoticeCookie(
                settings.CSRF_COOKIE_NAME,
                "Stops other websites from sending forms to Steward in a signed-in member of staff's name.",
                f"{round(settings.CSRF_COOKIE_AGE / 86400 / 365)} year",
                True,
            ),
            *(
                NoticeCookie(
                    replicas.PIN_COOKIE,
                    "Only after a form is sent: for a short time, pages are read from the main database, so they "
                    "show what was just changed.",
                    f"{replicas.pin_seconds()} seconds",
                    True,
                )
                for _ in replicas.aliases()[:1]
            ),
        ],
        "settings SESSION_COOKIE_NAME and CSRF_COOKIE_NAME (staff sign-in)",
    )


def notice_text(notice: Notice) -> str:
    """The notice as structured plain text: `# ` title, `## ` section, `- ` item, other lines prose.

    One statement a line, so that a diff between two versions shows which statements changed.
    """
    n = notice
    lines = [f"# {n.activity.name}: how your information is used", f"{n.school.name} (URN {n.school.urn})"]

    def section(title: str, *body: str) -> None:
        lines.extend(["", f"## {title}", *body])

    responsible = f"{n.school.name}{f', {n.school.town}' if n.school.town else ''} is the data controller."
    if n.processor:
        responsible += f" {n.processor.name} processes the information on the school's behalf, under contract."
    section(
        "Who is responsible",
        responsible,
        *(f"- {c.get_kind_display()}: {c.name}, {c.email}{f', {c.phone}' if c.phone else ''}" for c in n.contacts),
    )
    if n.ending:
        section("This service is ending", n.ending)
    section(
        "What we hold",
        *(f"- {c.name}{' (special category)' if c.special_category else ''}" for c in n.categories),
    )
    section("Why", *(f"- {p}" for p in n.activity.purposes))
    basis = [*(f"- {b}" for b in n.lawful_bases), n.activity.lawful_basis_explanation]
    if n.special_conditions:
        basis.append(
            f"For special category information: {'; '.join(n.special_conditions)}. "
            f"{n.activity.special_condition_explanation}"
        )
    section("Our lawful basis", *basis)
    section(
        "Who receives it",
        *(
            [
                f"- {r.recipient.name}: {' '.join(r.purposes)} Information: {', '.join(r.categories)}"
                for r in n.recipients
            ]
            or [NO_RECIPIENTS]
        ),
    )
    section(
        "Transfers outside the UK and EEA",
        *([f"- {r.name} ({r.country}): {r.transfer_safeguard}" for r in n.transfers] or [NO_TRANSFERS]),
    )
    section("Where it is processed", *(f"- {p.name}" for p in n.places))
    section("How long it is kept", *(f"- {retention_line(r)}" for r in n.retention))
    section("How it is kept safe", *(f"- {m}" for m in n.activity.security_measures))
    section("Cookies", cookie_intro(n), *(f"- {c.name} ({c.expires}): {c.purpose}" for c in n.cookies))
    contact = f" ({n.contacts[0].email})" if n.contacts else ""
    section(
        "Your rights",
        "You have the right:",
        *(f"- {text}" for _, text in n.rights),
        f"To use them, contact the school{contact}.",
    )
    return "\n".join(lines) + "\n"


NO_RECIPIENTS = "Nobody outside the school and its ICT service receives this information."
NO_TRANSFERS = "None: the information stays in the UK."
NOT_AUTOMATED = "Steward does not yet apply this period automatically."


def retention_line(r: NoticeRetention) -> str:
    rule = r.rule
    line = f"{rule.category.name + ': ' if rule.category else ''}{rule.period_days} days {rule.get_trigger_display()}."
    line += f" {rule.description}"
    return line if r.automated else f"{line} ({NOT_AUTOMATED})"


def cookie_intro(n: Notice) -> str:
    if n.for_parents:
        return (
            "The parent portal sets these cookies. Only the strictly necessary ones are set unless you accept "
            "analytics cookies."
        )
    return (
        "You do not sign in to this service. Steward sets only these two strictly necessary cookies, and only "
        "for school and ICT staff who sign in:"
    )
