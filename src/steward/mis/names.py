"""How a learner is named on every page a person reads: one rule, so no two pages disagree.

A learner is shown by the name they are known by: the preferred forename and preferred surname
the MIS holds, each falling back to the legal one when the school recorded none. Legal names
stay on the pages whose purpose is the record itself (the child's details, subject access
bundles), which show them as such, next to this name.
"""

from __future__ import annotations

from typing import Protocol


class NamedLearner(Protocol):
    """Anything holding a learner's name fields: a `Learner`, or a row read for one."""

    @property
    def legal_forename(self) -> str: ...
    @property
    def legal_surname(self) -> str: ...
    @property
    def preferred_forename(self) -> str: ...
    @property
    def preferred_surname(self) -> str: ...


def known_forename(learner: NamedLearner) -> str:
    """The forename the learner goes by, for messages that name a child to their parent."""
    return learner.preferred_forename or learner.legal_forename


def display_name(learner: NamedLearner) -> str:
    """The learner's name as the school's people and the parents say it: "forename surname"."""
    surname = learner.preferred_surname or learner.legal_surname
    return f"{known_forename(learner)} {surname}".strip()
