"""Who decides for a school on the service desk: its administrators and DPOs (`SCHOOL_ROLES`).

Copies, support access, attachments and emailed replies all ask the same question, so it is asked
here once: the membership is checked, not only the tenant scope, so another school's admin handed a
record is refused even inside that record's scope.
"""

from __future__ import annotations

from steward.tenancy.models import SCHOOL_ROLES, User
from steward.tenancy.selectors import school_roles


def decides_for(user: User, school_id: int) -> bool:
    """True when the user is an administrator or DPO of this school."""
    return bool(school_roles(user=user, school_id=school_id) & SCHOOL_ROLES)


def require_decider(user: User, school_id: int, what: str) -> None:
    """Raise PermissionError unless the user decides for the school that owns `what`."""
    if not decides_for(user, school_id):
        raise PermissionError(f"{user} is not an administrator or DPO of the school that owns {what}")
