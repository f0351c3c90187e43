from typing import Any

from django.http import HttpRequest

from steward.tenancy.models import Organisation, Role
from steward.tenancy.selectors import processor_roles, schools_for_user


def current_school(request: HttpRequest) -> dict[str, Any]:
    """The school switcher's choices and the current school, for the page header."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_verified():  # type: ignore[union-attr]
        return {}
    school_id = getattr(request, "school_id", None)
    schools = list(schools_for_user(user=user))  # type: ignore[arg-type]
    current = next((s for s in schools if s.id == school_id), None)
    roles = processor_roles(user=user)  # type: ignore[arg-type]
    return {
        "current_school": current,
        "switchable_schools": schools,
        "is_processor_staff": bool(roles),
        # The menu shows a page only to a role that may open it (issue #12: no link a role cannot use).
        "is_processor_admin": Role.PROCESSOR_ADMIN in roles,
        "school_roles": getattr(request, "school_roles", frozenset()),
        "organisation_kinds": Organisation.Kind,
    }
