"""The plan: which accounts to create, update, move, disable, re-enable or delete, and why.

Computed from two things only: the MIS data as it is now (`people.py`) and Steward's record of what
it last wrote to the target (`ProvisionedAccount.written`). The directory is not read back, except
once at a first sync, to adopt accounts that already exist instead of making duplicates. So a plan
is cheap, repeatable, and empty when nothing changed: a quiet night sends nothing.

Each change carries the reason a school admin reads ("left on 22 July 2026") and the register rule
behind it (the activity's purpose, the retention rule, the article of the UK GDPR).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from steward.provisioning.connectors.base import Account, RemoteAccount
from steward.provisioning.naming import Name, allocate, fingerprint
from steward.provisioning.people import Person

# The register rules a change can rest on (the activity's purposes and its retention rule are read
# from the register when a plan is made; these are the fixed ones).
RESTRICTION_RULE = "UK GDPR Art. 18: while processing is restricted the account is suspended, not used."
ERASURE_RULE = "UK GDPR Art. 17 and Art. 19: an erased person's accounts are removed from every recipient."

_DN_UNSAFE = re.compile(r'[,+"\\<>;=#]')


@dataclass(frozen=True)
class Rules:
    """The register's words and periods a plan rests on, and the target's settings."""

    create: str
    update: str
    leave: str
    delete_after_days: int
    reserve_days: int
    staff_leave: str = ""
    staff_delete_after_days: int | None = None

    def leaving(self, person_type: str) -> tuple[str, int]:
        """The leaving rule's words and period for learners or staff (the register states one each)."""
        if person_type == "staff" and self.staff_leave:
            return self.staff_leave, self.staff_delete_after_days or self.delete_after_days
        return self.leave, self.delete_after_days


@dataclass(frozen=True)
class TargetSettings:
    target_id: int
    people: str  # staff, learners or both
    year_groups: tuple[str, ...]
    domain: str
    staff_naming: str
    learner_naming: str
    staff_container: str
    learner_container: str
    leavers_container: str
    staff_groups: tuple[str, ...]
    learner_groups: tuple[str, ...]
    # The record-type.field names the approved flow releases: an attribute read from any other
    # field is not sent (the MIS may hold a work email the school did not approve for this directory).
    released: frozenset[str] = frozenset({"staff.email", "staff-assignments.role"})
    # Written before every external id: the school's URN, so that two schools sharing one directory
    # (a trust's tenant) never take each other's accounts for their own (MIS ids repeat across schools).
    school_key: str = ""
    # The longest external id the directory takes (AD's employeeID: 16 characters); a longer one
    # is replaced by a fingerprint of it, the same every time, so lookups and adoption still match.
    id_limit: int | None = None

    def external_id(self, person_type: str, source_id: str) -> str:
        kind = "staff" if person_type == "staff" else "learner"
        full = f"{self.school_key}:{kind}:{source_id}" if self.school_key else f"{kind}:{source_id}"
        if self.id_limit is None or len(full) <= self.id_limit:
            return full
        digest = base64.b32encode(hashlib.sha256(full.encode()).digest()).decode().lower()
        return (kind[0] + digest)[: self.id_limit]


@dataclass(frozen=True)
class Held:
    """An account as Steward last wrote it (the planner's view of `ProvisionedAccount`)."""

    person_type: str
    source_id: str
    remote_id: str
    user_name: str
    login: str
    written: dict[str, Any]
    active: bool
    left_on: dt.date | None = None
    erasure_requested: bool = False
    disabled_reason: str = ""


@dataclass
class Change:
    action: str
    person_type: str
    source_id: str
    person: str
    user_name: str
    login: str
    reason: str
    rule: str
    fields: list[str] = field(default_factory=list)
    desired: dict[str, Any] = field(default_factory=dict)
    remote_id: str = ""
    left_on: dt.date | None = None


def _clean(value: str) -> str:
    return _DN_UNSAFE.sub("", value).strip()


def _fill(template: str, person: Person) -> str:
    return template.format(year=person.year, registration=person.registration, role=person.role)


def in_scope(settings: TargetSettings, person: Person) -> bool:
    if settings.people not in ("both", person.person_type):
        return False
    return person.person_type == "staff" or not settings.year_groups or person.year in settings.year_groups


def account_for(settings: TargetSettings, person: Person, name: Name, *, active: bool = True) -> Account:
    """The account a person should have at this target (a leaver's: disabled, in the leavers' place, in no group)."""
    staff = person.person_type == "staff"
    safe = Person(
        person_type=person.person_type,
        source_id=person.source_id,
        forename=person.forename,
        surname=person.surname,
        year=_clean(person.year),
        registration=_clean(person.registration),
        role=_clean(person.role),
    )
    container = settings.staff_container if staff else settings.learner_container
    groups = settings.staff_groups if staff else settings.learner_groups
    filled_groups = tuple(dict.fromkeys(g for g in (_fill(t, safe).strip() for t in groups) if g and g != "Year"))
    return Account(
        external_id=settings.external_id(person.person_type, person.source_id),
        user_name=name.user_name,
        login=name.login,
        given_name=person.forename,
        family_name=person.surname,
        display_name=person.name,
        email=_email(person, name, settings.released),
        kind="staff" if staff else "learner",
        active=active,
        container=_fill(container, safe) if active else settings.leavers_container,
        groups=filled_groups if active else (),
        title=person.role if staff and "staff-assignments.role" in settings.released else "",
        department="" if staff else person.year,
    )


def _email(person: Person, name: Name, released: frozenset[str]) -> str:
    """Staff keep the work address the MIS holds, when the flow releases it; otherwise, and for
    learners, the address is the account name (a learner's own or a parent's email in the MIS is
    never sent to a directory)."""
    if person.person_type == "staff" and person.email and "staff.email" in released:
        return person.email
    return name.user_name if "@" in name.user_name else ""


def written_form(account: Account) -> dict[str, Any]:
    data = asdict(account)
    data["groups"] = sorted(account.groups)
    return data


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [k for k in after if k not in ("external_id",) and before.get(k) != after[k]]


def _date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


class _Names:
    """Names in use at the target, reserved for leavers, or given out earlier in this plan."""

    def __init__(self, target_id: int, held: Iterable[Held], reserved: set[str], remote: Iterable[RemoteAccount]):
        self.target_id = target_id
        self.used = {n.lower() for h in held for n in (h.user_name, h.login)}
        self.used |= {r.user_name.lower() for r in remote}
        self.reserved = reserved

    def taken(self, name: Name) -> bool:
        return any(
            n.lower() in self.used or fingerprint(self.target_id, n) in self.reserved
            for n in (name.user_name, name.login)
        )

    def give(self, rule: str, person: Person, domain: str) -> Name:
        name = allocate(rule, person, domain, self.taken)
        self.used |= {name.user_name.lower(), name.login.lower()}
        return name


def plan(
    *,
    settings: TargetSettings,
    rules: Rules,
    people: list[Person],
    held: list[Held],
    today: dt.date,
    on_hold: set[tuple[str, str]],
    reserved: set[str],
    remote: list[RemoteAccount] | None = None,
) -> list[Change]:
    """Every change that brings the target to what the MIS says, in a stable order (removals first).

    `on_hold` are (person type, source id) pairs under a legal hold: their accounts are never deleted.
    `reserved` are fingerprints of names leavers held (see naming.fingerprint). `remote` is the
    directory's accounts at a first sync, matched by external id, then email, to be adopted.
    """
    accounts = {(h.person_type, h.source_id): h for h in held}
    names = _Names(settings.target_id, held, reserved, remote or [])
    by_external = {r.external_id: r for r in remote or [] if r.external_id}
    by_email = {n.lower(): r for r in remote or [] for n in (r.email, r.user_name) if n}
    removals: list[Change] = []
    others: list[Change] = []
    seen: set[tuple[str, str]] = set()

    def change(action: str, h: Held | None, person: Person | None, reason: str, rule: str, **kw: Any) -> Change:
        return Change(
            action=action,
            person_type=(person.person_type if person else h.person_type),  # type: ignore[union-attr]
            source_id=(person.source_id if person else h.source_id),  # type: ignore[union-attr]
            person=person.name if person else str((h.written if h else {}).get("display_name", "")),
            user_name=h.user_name if h else kw.pop("user_name", ""),
            login=h.login if h else kw.pop("login", ""),
            reason=reason,
            rule=rule,
            remote_id=h.remote_id if h else kw.pop("remote_id", ""),
            **kw,
        )

    def removal(h: Held, person: Person | None, why: str, left_on: dt.date) -> None:
        """Disable an active account; delete a disabled one whose period has ended (unless held)."""
        if h.erasure_requested:
            erased = change("delete", h, None, "The school erased this person's data.", ERASURE_RULE)
            erased.person, erased.user_name = "Erased person", ""  # the plan keeps no trace of them
            removals.append(erased)
            return
        leave_rule, period = rules.leaving(h.person_type)
        if h.active:
            leaver = account_for(settings, person, Name(h.user_name, h.login), active=False) if person else None
            desired = written_form(leaver) if leaver else {**h.written, "active": False, "groups": []}
            if not leaver:
                desired["container"] = settings.leavers_container
            removals.append(
                change(
                    "disable",
                    h,
                    person,
                    why,
                    leave_rule,
                    fields=differences(h.written, desired),
                    desired=desired,
                    left_on=left_on,
                )
            )
            return
        since = h.left_on or left_on
        due = since + dt.timedelta(days=period)
        if due <= today and (h.person_type, h.source_id) not in on_hold:
            removals.append(
                change(
                    "delete",
                    h,
                    person,
                    f"Left on {_date(since)}; the {period}-day period ended on {_date(due)}.",
                    leave_rule,
                )
            )

    for person in people:
        seen.add(person.key)
        h = accounts.get(person.key)
        if not in_scope(settings, person):
            if h is not None:
                why = "No longer among the people this directory receives (year group or staff setting)."
                removal(h, person, why, h.left_on or today)
            continue
        if person.restricted:
            if h is not None and h.active:
                removal(h, person, "The school restricted processing of this person's data.", today)
            continue
        if person.has_left(today):
            assert person.left_on is not None
            if h is not None:
                removal(h, person, f"Left on {_date(person.left_on)}.", person.left_on)
            continue
        if h is None:
            found = by_external.get(settings.external_id(person.person_type, person.source_id)) or (
                by_email.get(person.email.lower()) if person.email else None
            )
            if found is not None:
                name = Name(found.user_name, found.user_name.partition("@")[0][:20])
                desired = written_form(account_for(settings, person, name))
                others.append(
                    change(
                        "adopt",
                        None,
                        person,
                        "Already has an account in this directory; Steward takes it over.",
                        rules.create,
                        fields=list(desired),
                        desired=desired,
                        user_name=name.user_name,
                        login=name.login,
                        remote_id=found.remote_id,
                    )
                )
                continue
            rule = settings.staff_naming if person.person_type == "staff" else settings.learner_naming
            name = names.give(rule, person, settings.domain)
            desired = written_form(account_for(settings, person, name))
            desired["_group"] = person.registration or (f"Year {person.year}" if person.year else "Staff")
            joined = "New member of staff." if person.person_type == "staff" else f"On roll in Year {person.year}."
            others.append(
                change(
                    "create",
                    None,
                    person,
                    joined,
                    rules.create,
                    fields=list(desired),
                    desired=desired,
                    user_name=name.user_name,
                    login=name.login,
                )
            )
            continue
        desired = written_form(account_for(settings, person, Name(h.user_name, h.login)))
        changed = differences(h.written, desired)
        if not h.active:
            reason = (
                "The school lifted the restriction of this person's data."
                if h.disabled_reason == "restricted"
                else "Back at the school: the account is re-enabled, not made again."
            )
            others.append(change("enable", h, person, reason, rules.update, fields=changed, desired=desired))
        elif changed:
            action = "move" if "container" in changed else "update"
            others.append(
                change(
                    action,
                    h,
                    person,
                    _what_changed(h.written, desired, changed),
                    rules.update,
                    fields=changed,
                    desired=desired,
                )
            )
    for key, h in accounts.items():
        if key not in seen:
            removal(h, None, "No longer in the school's MIS data.", h.left_on or today)
    return removals + others


_FIELD_WORDS = {
    "given_name": "forename",
    "family_name": "surname",
    "display_name": "name",
    "container": "place in the directory",
    "groups": "groups",
    "title": "role",
    "department": "year group",
    "email": "email address",
}


def _what_changed(before: dict[str, Any], after: dict[str, Any], changed: list[str]) -> str:
    parts = []
    for f in changed:
        if f == "department":
            parts.append(f"year group {before.get(f) or '(none)'} → {after[f]}")
        elif f == "title":
            parts.append(f"role {before.get(f) or '(none)'} → {after[f]}")
        elif f in _FIELD_WORDS:
            parts.append(_FIELD_WORDS[f])
    return "Changed in the MIS: " + ", ".join(dict.fromkeys(parts)) + "." if parts else "Changed in the MIS."
