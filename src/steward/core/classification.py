"""The two declarations a model makes about personal data, next to its fields.

They are here, not in the register that checks them (`register.classification`, which re-exports
them), so that core's own table can declare itself without core importing the register: core is
the ground floor and imports no other app.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PersonalData:
    subject: str
    fields: Mapping[str, str]
    not_personal: frozenset[str] = field(default_factory=frozenset)

    def __init__(self, *, subject: str, fields: Mapping[str, str], not_personal: Iterable[str] = ()) -> None:
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "fields", dict(fields))
        object.__setattr__(self, "not_personal", frozenset(not_personal))

    def categories(self) -> set[str]:
        return set(self.fields.values())


@dataclass(frozen=True)
class NoPersonalData:
    reason: str
