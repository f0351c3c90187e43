"""Account names from a school's naming rule: ASCII, valid in every directory, and never a name in use
or one a leaver held within the retention period.

A rule is a template such as ``{forename}.{surname}{n}@{domain}`` (staff) or
``{admission_yy}{surname}{initial}{n}@{domain}`` (pupils). Names are folded to plain ASCII the way
people write them in email addresses: diacritics dropped (Zoë → zoe), apostrophes dropped
(O'Brien → obrien), spaces and other punctuation become hyphens inside a part, and a part is cut
short so that the whole local part stays within 64 characters and the short login (AD's
sAMAccountName) within 20. ``{n}`` is empty for the first person and 2, 3, … for the next ones with
the same name; a rule without ``{n}`` gets the number before the ``@``.
"""

from __future__ import annotations

import hashlib
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from steward.provisioning.people import Person

PLACEHOLDERS = {
    "forename",
    "surname",
    "initial",
    "n",
    "domain",
    "admission_year",
    "admission_yy",
    "year",
    "registration",
    "role",
}
LOCAL_MAX = 64
LOGIN_MAX = 20  # sAMAccountName
PART_MAX = 30
# Folds that NFKD does not do by itself (letters that are not a base letter plus a mark).
_FOLD = str.maketrans({"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "þ": "th"})


class NamingError(ValueError):
    """A rule that cannot make a name (an unknown placeholder, no person-specific part)."""


def fold(text: str, limit: int = PART_MAX) -> str:
    """One name part as plain lower-case ASCII: letters, digits and inner hyphens only."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).encode("ascii", "ignore").decode()
    no_apostrophes = re.sub(r"['’`]", "", ascii_only.lower())
    hyphenated = re.sub(r"[^a-z0-9]+", "-", no_apostrophes).strip("-")
    return hyphenated[:limit].strip("-")


def placeholders(rule: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(rule) if name is not None}


def check_rule(rule: str) -> None:
    """Refuse a rule a directory could not use, with the reason in words."""
    used = placeholders(rule)
    unknown = used - PLACEHOLDERS
    if unknown:
        raise NamingError(f"unknown placeholder {{{sorted(unknown)[0]}}}: use {', '.join(sorted(PLACEHOLDERS))}")
    if not used & {"forename", "surname", "initial"}:
        raise NamingError("the rule must use the person's {forename}, {surname} or {initial}")
    if rule.count("@") > 1:
        raise NamingError("the rule has more than one @")


@dataclass(frozen=True)
class Name:
    user_name: str  # user@domain, or the bare local part when the rule has no @
    login: str  # at most 20 characters


def _values(person: Person, domain: str) -> dict[str, str]:
    forename, surname = fold(person.forename), fold(person.surname)
    year = str(person.admission_year or "")
    return {
        "forename": forename or "x",
        "surname": surname or "x",
        "initial": (forename or "x")[0],
        "domain": domain.lower(),
        "admission_year": year,
        "admission_yy": year[-2:],
        "year": fold(person.year),
        "registration": fold(person.registration),
        "role": fold(person.role),
    }


def _render(rule: str, values: dict[str, str], n: int) -> Name:
    suffix = "" if n == 1 else str(n)
    template = rule if "{n}" in rule else rule.replace("@", "{n}@", 1) if "@" in rule else rule + "{n}"
    local_rule, _, domain_rule = template.partition("@")
    local = local_rule.format(**values, n="\0")  # mark where the number goes, then make room for it
    before, _, after = local.partition("\0")
    room = LOCAL_MAX - len(suffix) - len(after)
    local = re.sub(r"[^a-z0-9._-]", "", (before[:room] + suffix + after)).strip(".-") or "x"
    local = re.sub(r"\.{2,}", ".", local)
    login_base = re.sub(r"[^a-z0-9._-]", "", before + after).strip(".-")
    login = (login_base[: LOGIN_MAX - len(suffix)].rstrip(".-") + suffix) or "x"
    user_name = f"{local}@{domain_rule.format(**values)}" if domain_rule else local
    return Name(user_name=user_name, login=login)


def fingerprint(target_id: int, name: str) -> str:
    """How a deleted leaver's name is remembered: one-way, per target."""
    return hashlib.sha256(f"{target_id}:{name.lower()}".encode()).hexdigest()


def allocate(rule: str, person: Person, domain: str, taken: Callable[[Name], bool]) -> Name:
    """The first name the rule gives this person that `taken` does not refuse (1, 2, 3, …)."""
    values = _values(person, domain)
    for n in range(1, 10_000):
        name = _render(rule, values, n)
        if not taken(name):
            return name
    raise NamingError(f"no free account name for {person.name} under {rule}")
